/** The sidebar's clients table (browser only): a search box and one row per connected client. */
import { t } from '../editor-common'
import type { ClientRow } from '../monitoring'
import { h } from './editor-dom'

const PROTOCOLS: Record<number, string> = { 3: '3.1', 4: '3.1.1', 5: '5' }

function since (ms: number): string {
  const d = new Date(ms)
  const pad = (n: number): string => String(n).padStart(2, '0')
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

export class ClientsTable {
  readonly el: HTMLElement
  private readonly body: HTMLElement
  private readonly search: HTMLInputElement
  private readonly count: HTMLElement
  private rows: ClientRow[] = []

  constructor (private readonly canWrite: boolean, private readonly onDisconnect: (clientId: string) => void) {
    this.search = h('input', { type: 'text', class: 'hearth-clients-search', placeholder: t('sidebar.clients.search'), style: 'width:100%;margin-bottom:4px' }) as HTMLInputElement
    this.search.addEventListener('input', () => this.render())
    this.count = h('span', { class: 'hearth-clients-count', style: 'opacity:0.7;margin-left:6px' })
    const cols = ['clientId', 'username', 'address', 'transport', 'protocol', 'since', 'subscriptions', 'inflight', 'queued', 'dropped']
    const head = h('tr', {}, ...cols.map(c => h('th', { text: t(`sidebar.clients.${c}`), style: 'text-align:left;padding:2px 4px;white-space:nowrap' })), h('th'))
    this.body = h('tbody')
    this.el = h('div', { class: 'hearth-clients' },
      h('div', { style: 'font-weight:bold;margin:8px 0 4px' }, t('sidebar.clients.title'), this.count),
      this.search,
      h('div', { style: 'overflow-x:auto' }, h('table', { class: 'hearth-clients-table', style: 'border-collapse:collapse;font-size:11px;width:100%' }, h('thead', {}, head), this.body)))
  }

  set (rows: ClientRow[]): void {
    this.rows = rows
    this.render()
  }

  private render (): void {
    const q = this.search.value.trim().toLowerCase()
    const shown = q === '' ? this.rows : this.rows.filter(r => `${r.clientId} ${r.username} ${r.address} ${r.transport}`.toLowerCase().includes(q))
    this.count.textContent = `(${shown.length === this.rows.length ? this.rows.length : `${shown.length}/${this.rows.length}`})`
    this.body.replaceChildren(...shown.map(r => this.row(r)))
    if (shown.length === 0) this.body.append(h('tr', {}, h('td', { colspan: 11, class: 'hearth-clients-none', text: t(this.rows.length === 0 ? 'sidebar.clients.none' : 'sidebar.clients.noMatch'), style: 'padding:4px;opacity:0.7' })))
  }

  private row (r: ClientRow): HTMLElement {
    const cell = (text: string | number): HTMLElement => h('td', { text: String(text), style: 'padding:2px 4px;white-space:nowrap;border-top:1px solid var(--red-ui-secondary-border-color, #ddd)' })
    const button = h('button', {
      type: 'button',
      class: 'red-ui-button red-ui-button-small hearth-disconnect',
      title: this.canWrite ? t('sidebar.clients.disconnect') : t('sidebar.readOnly'),
      disabled: !this.canWrite,
    }, h('i', { class: 'fa fa-times' }))
    button.addEventListener('click', () => { if (this.canWrite) this.onDisconnect(r.clientId) })
    const tr = h('tr', { class: 'hearth-client', 'data-client-id': r.clientId },
      cell(r.clientId), cell(r.username), cell(r.address), cell(r.transport), cell(PROTOCOLS[r.protocolVersion] ?? String(r.protocolVersion)),
      cell(since(r.connectedAt)), cell(r.subscriptions), cell(r.inflight), cell(r.queued), cell(r.dropped), h('td', {}, button))
    return tr
  }
}
