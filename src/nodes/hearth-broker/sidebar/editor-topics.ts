/**
 * The sidebar's topic tree, as MQTT Explorer shows it (browser only): topics seen and retained,
 * expandable level by level, with message counts; a topic's retained value and last message;
 * publish to a topic, clear a retained message.
 */
import { t } from '../editor-common'
import type { Preview, TopicRow } from '../monitoring'
import { h } from './editor-dom'

interface Level { name: string, path: string, children: Map<string, Level>, row?: TopicRow, count: number }

export interface TopicActions {
  publish (topic: string, payload: string, qos: number, retain: boolean): void
  clear (topic: string): void
}

function build (rows: TopicRow[]): Level {
  const root: Level = { name: '', path: '', children: new Map(), count: 0 }
  for (const r of rows) {
    let at = root
    at.count += r.count
    const parts = r.topic.split('/')
    parts.forEach((name, i) => {
      let next = at.children.get(name)
      if (next === undefined) at.children.set(name, next = { name, path: parts.slice(0, i + 1).join('/'), children: new Map(), count: 0 })
      next.count += r.count
      at = next
    })
    at.row = r
  }
  return root
}

function previewText (p: Preview): string {
  return p.encoding === 'hex' ? `0x${p.text}${p.truncated ? '…' : ''}` : `${p.text}${p.truncated ? '…' : ''}`
}

export class TopicTree {
  readonly el: HTMLElement
  private readonly tree: HTMLElement
  private readonly details: HTMLElement
  private readonly note: HTMLElement
  private readonly expanded = new Set<string>()
  private rows = new Map<string, TopicRow>()
  private recording = false
  private truncated = false
  private selected: string | undefined
  private readonly pubTopic: HTMLInputElement
  private readonly pubPayload: HTMLTextAreaElement
  private readonly pubQos: HTMLSelectElement
  private readonly pubRetain: HTMLInputElement

  constructor (private readonly canWrite: boolean, private readonly actions: TopicActions) {
    this.tree = h('ul', { class: 'hearth-topic-tree', style: 'list-style:none;margin:0;padding:0;font-size:12px;max-height:300px;overflow:auto' })
    this.details = h('div', { class: 'hearth-topic-details', style: 'font-size:12px;margin-top:6px' })
    this.note = h('div', { class: 'hearth-topics-note', style: 'opacity:0.7;font-size:11px' })
    this.pubTopic = h('input', { type: 'text', class: 'hearth-publish-topic', placeholder: t('sidebar.publish.topic'), style: 'width:100%' }) as HTMLInputElement
    this.pubPayload = h('textarea', { class: 'hearth-publish-payload', rows: 2, placeholder: t('sidebar.publish.payload'), style: 'width:100%;margin-top:4px' }) as HTMLTextAreaElement
    this.pubQos = h('select', { class: 'hearth-publish-qos', style: 'width:70px' }, ...[0, 1, 2].map(q => h('option', { value: q, text: `QoS ${q}` }))) as HTMLSelectElement
    this.pubRetain = h('input', { type: 'checkbox', class: 'hearth-publish-retain', style: 'width:auto;margin:0 4px 0 8px' }) as HTMLInputElement
    const pubButton = h('button', { type: 'button', class: 'red-ui-button hearth-publish', disabled: !canWrite, title: canWrite ? undefined : t('sidebar.readOnly') }, h('i', { class: 'fa fa-paper-plane' }), ` ${t('sidebar.publish.button')}`)
    pubButton.addEventListener('click', () => {
      if (this.canWrite && this.pubTopic.value !== '') this.actions.publish(this.pubTopic.value, this.pubPayload.value, Number(this.pubQos.value), this.pubRetain.checked)
    })
    const publish = h('div', { class: 'hearth-publish-form', style: 'margin-top:8px' },
      h('div', { style: 'font-weight:bold;margin-bottom:4px', text: t('sidebar.publish.title') }), this.pubTopic, this.pubPayload,
      h('div', { style: 'margin-top:4px;display:flex;align-items:center' }, this.pubQos, h('label', { style: 'width:auto;margin:0 8px 0 0' }, this.pubRetain, t('sidebar.publish.retain')), pubButton))
    this.el = h('div', { class: 'hearth-topics' }, h('div', { style: 'font-weight:bold;margin:8px 0 4px', text: t('sidebar.topics.title') }), this.note, this.tree, this.details, publish)
  }

  set (rows: TopicRow[], recording: boolean, truncated: boolean): void {
    this.rows = new Map(rows.map(r => [r.topic, r]))
    this.recording = recording
    this.truncated = truncated
    this.render()
  }

  private render (): void {
    const rows = [...this.rows.values()]
    this.note.textContent = t(this.recording ? 'sidebar.topics.recording' : 'sidebar.topics.notRecording') + (this.truncated ? ` ${t('sidebar.topics.truncated')}` : '')
    const root = build(rows)
    this.tree.replaceChildren(...this.levels(root, 0))
    if (rows.length === 0) this.tree.append(h('li', { class: 'hearth-topics-none', text: t('sidebar.topics.none'), style: 'opacity:0.7' }))
    this.showDetails()
  }

  private levels (parent: Level, depth: number): HTMLElement[] {
    const out: HTMLElement[] = []
    for (const l of [...parent.children.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const open = this.expanded.has(l.path)
      const hasChildren = l.children.size > 0
      const caret = h('i', { class: `fa fa-fw ${hasChildren ? (open ? 'fa-caret-down' : 'fa-caret-right') : ''}` })
      const value = l.row?.retained ?? l.row?.last
      const line = h('div', {
        class: `hearth-topic${this.selected === l.path ? ' selected' : ''}`,
        'data-topic': l.path,
        style: `padding:1px 0 1px ${depth * 12}px;cursor:pointer;white-space:nowrap;overflow:hidden;text-overflow:ellipsis${this.selected === l.path ? ';background:var(--red-ui-list-item-background-selected, #ffebc7)' : ''}`,
      }, caret, h('span', { class: 'hearth-topic-name', text: l.name === '' ? '∅' : l.name }),
      l.count > 0 ? h('span', { class: 'hearth-topic-count', text: ` (${l.count})`, style: 'opacity:0.6' }) : undefined,
      l.row?.retained !== undefined ? h('i', { class: 'fa fa-thumb-tack', title: t('sidebar.topics.retained'), style: 'margin-left:4px;opacity:0.6' }) : undefined,
      value !== undefined ? h('span', { class: 'hearth-topic-value', text: ` = ${previewText(value)}`, style: 'opacity:0.8' }) : undefined)
      line.addEventListener('click', () => {
        if (hasChildren) { if (open) this.expanded.delete(l.path); else this.expanded.add(l.path) }
        this.selected = l.path
        if (l.row !== undefined) this.pubTopic.value = l.path
        this.render()
      })
      out.push(h('li', {}, line))
      if (open) out.push(...this.levels(l, depth + 1))
    }
    return out
  }

  private showDetails (): void {
    const r = this.selected !== undefined ? this.rows.get(this.selected) : undefined
    if (r === undefined) { this.details.replaceChildren(); return }
    const block = (title: string, p: Preview, extra: string): HTMLElement => h('div', { style: 'margin-top:4px' },
      h('div', { style: 'opacity:0.7', text: `${title} · ${extra} · ${t('sidebar.topics.bytes', { bytes: p.bytes })}${p.truncated ? ` · ${t('sidebar.topics.cut')}` : ''}` }),
      h('pre', { class: 'hearth-topic-payload', text: previewText(p), style: 'white-space:pre-wrap;word-break:break-all;margin:2px 0;max-height:120px;overflow:auto' }))
    const parts: HTMLElement[] = [h('div', { class: 'hearth-topic-selected', style: 'font-weight:bold;word-break:break-all', text: r.topic }),
      h('div', { style: 'opacity:0.7', text: t('sidebar.topics.messages', { count: r.count }) })]
    if (r.last !== undefined) parts.push(block(t('sidebar.topics.last'), r.last, `QoS ${r.last.qos}${r.last.retain ? ' · retain' : ''}`))
    if (r.retained !== undefined) {
      parts.push(block(t('sidebar.topics.retained'), r.retained, `QoS ${r.retained.qos}`))
      const clear = h('button', { type: 'button', class: 'red-ui-button red-ui-button-small hearth-clear-retained', disabled: !this.canWrite, title: this.canWrite ? undefined : t('sidebar.readOnly') },
        h('i', { class: 'fa fa-eraser' }), ` ${t('sidebar.topics.clear')}`)
      clear.addEventListener('click', () => { if (this.canWrite) this.actions.clear(r.topic) })
      parts.push(clear)
    }
    this.details.replaceChildren(...parts)
  }
}
