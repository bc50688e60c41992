/**
 * The editor's "MQTT broker" sidebar tab (browser only). For the broker nodes of the running flows:
 * live plots of the last five minutes, the clients table, the topic tree. While the tab shows, it asks
 * the runtime to watch the picked broker every KEEPALIVE_MS (POST .../watch): only then does the runtime
 * publish the figures on comms (once a second) and record topics. The rate history lives here, in
 * the browser. Clients and topics come from the admin routes (hearth.read); disconnect, publish and
 * clear need hearth.write, and their buttons are disabled without it.
 */
import { getJson, postJson, t } from '../editor-common'
import { HISTORY_POINTS, KEEPALIVE_MS, statsTopic, type BrokerRow, type ClientRow, type StatsFrame, type TopicRow } from '../monitoring'
import { TYPE } from '../types'
import { ClientsTable } from './editor-clients'
import { h } from './editor-dom'
import { Plot } from './editor-plot'
import { TopicTree } from './editor-topics'

/** The parts of the editor's RED the sidebar uses (Node-RED 4.1 and 5). */
interface SidebarRED {
  sidebar: { addTab (tab: { id: string, label: string, name: string, iconClass: string, content: HTMLElement, enableOnEdit?: boolean }): void }
  comms: { subscribe (topic: string, cb: (topic: string, data: unknown) => void): void }
  user?: { hasPermission (permission: string): boolean }
}

const SIDEBAR_ID = 'hearth-broker'
const COLORS = { in: '#2a7fbb', out: '#d9822b', clients: '#4a9e4a' }

export function registerSidebar (): void {
  const R = RED as unknown as SidebarRED
  if (R.sidebar === undefined || R.comms === undefined) return
  const canWrite = R.user?.hasPermission('hearth.write') !== false

  let brokers: BrokerRow[] = []
  let selected: string | undefined
  const history = new Map<string, StatsFrame[]>()
  let tick = 0

  const picker = h('select', { class: 'hearth-broker-picker', style: 'width:100%' }) as HTMLSelectElement
  const pickerRow = h('div', { style: 'margin-bottom:6px' }, picker)
  const empty = h('div', { class: 'hearth-sidebar-empty', style: 'padding:16px 8px;text-align:center;opacity:0.8' })
  const status = h('div', { class: 'hearth-sidebar-status', style: 'font-size:11px;color:var(--red-ui-text-color-error, #c00);min-height:14px' })
  const plots = {
    msgs: new Plot('hearth-plot-msgs', t('sidebar.plots.messages'), [{ label: t('sidebar.plots.in'), color: COLORS.in }, { label: t('sidebar.plots.out'), color: COLORS.out }]),
    bytes: new Plot('hearth-plot-bytes', t('sidebar.plots.bytes'), [{ label: t('sidebar.plots.in'), color: COLORS.in }, { label: t('sidebar.plots.out'), color: COLORS.out }]),
    clients: new Plot('hearth-plot-clients', t('sidebar.plots.clients'), [{ label: '', color: COLORS.clients }]),
  }
  const say = (text: string): void => { status.textContent = text }
  const act = (p: Promise<Record<string, unknown>>, done: () => void): void => {
    p.then(() => { say(''); done() }, (answer: { error?: { code?: string } }) => say(t('sidebar.failed', { code: String(answer?.error?.code ?? 'REQUEST_FAILED') })))
  }
  const url = (what: string): string => `${TYPE}/${encodeURIComponent(selected ?? '')}/${what}`
  const clients = new ClientsTable(canWrite, (clientId) => act(postJson(url('disconnect'), { clientId }), refreshClients))
  const topics = new TopicTree(canWrite, {
    publish: (topic, payload, qos, retain) => act(postJson(url('publish'), { topic, payload, qos, retain }), refreshTopics),
    clear: (topic) => act(postJson(url('clear'), { topic }), refreshTopics),
  })
  const live = h('div', { class: 'hearth-sidebar-live' }, plots.msgs.el, plots.bytes.el, plots.clients.el, clients.el, topics.el)
  const content = h('div', { class: 'hearth-sidebar', style: 'padding:8px;height:100%;overflow-y:auto;box-sizing:border-box' }, pickerRow, status, empty, live)

  const visible = (): boolean => content.offsetParent !== null
  const current = (): BrokerRow | undefined => brokers.find(b => b.id === selected)

  function showState (): void {
    const b = current()
    pickerRow.style.display = brokers.length > 1 ? '' : 'none'
    if (brokers.length === 0) empty.textContent = t('sidebar.empty')
    else if (b !== undefined && !b.running) empty.textContent = b.failure !== undefined ? t('sidebar.stoppedWhy', { why: b.failure }) : t('sidebar.stopped')
    const running = b?.running === true
    empty.style.display = running ? 'none' : ''
    live.style.display = running ? '' : 'none'
  }

  function drawPlots (): void {
    const frames = selected !== undefined ? history.get(selected) ?? [] : []
    plots.msgs.draw(frames.map(f => [f.msgsIn, f.msgsOut]))
    plots.bytes.draw(frames.map(f => [f.bytesIn, f.bytesOut]))
    plots.clients.draw(frames.map(f => [f.clients]))
  }

  function refreshBrokers (): Promise<void> {
    return getJson(`${TYPE}/brokers`).then((answer) => {
      brokers = (answer.brokers as BrokerRow[] | undefined) ?? []
      if (selected === undefined || !brokers.some(b => b.id === selected)) selected = brokers.find(b => b.running)?.id ?? brokers[0]?.id
      picker.replaceChildren(...brokers.map(b => h('option', { value: b.id, text: b.name !== '' ? b.name : b.id, selected: b.id === selected })))
      showState()
    }, () => undefined)
  }
  function refreshClients (): void {
    if (current()?.running !== true) return
    getJson(url('clients')).then((a) => { if (Array.isArray(a.clients)) clients.set(a.clients as ClientRow[]) }, () => undefined)
  }
  function refreshTopics (): void {
    if (current()?.running !== true) return
    getJson(url('topics')).then((a) => { if (Array.isArray(a.topics)) topics.set(a.topics as TopicRow[], a.recording === true, a.truncated === true) }, () => undefined)
  }
  function keepalive (): void {
    if (current()?.running !== true) return
    postJson(url('watch'), {}).catch(() => undefined)
  }

  picker.addEventListener('change', () => {
    selected = picker.value
    showState()
    drawPlots()
    keepalive()
    refreshClients()
    refreshTopics()
  })

  R.comms.subscribe(statsTopic('+'), (_topic, data) => {
    const f = data as StatsFrame
    if (typeof f?.id !== 'string') return
    const list = history.get(f.id) ?? []
    list.push(f)
    if (list.length > HISTORY_POINTS) list.splice(0, list.length - HISTORY_POINTS)
    history.set(f.id, list)
    if (f.id === selected && visible()) drawPlots()
  })

  // One timer; it does nothing while the tab is hidden, so an unwatched broker pays nothing.
  const everyTicks = Math.max(1, Math.round(KEEPALIVE_MS / 1000))
  let wasVisible = false
  setInterval(() => {
    if (!visible()) { wasVisible = false; return }
    const first = !wasVisible
    wasVisible = true
    if (first || tick % everyTicks === 0) {
      void refreshBrokers().then(() => {
        keepalive()
        refreshClients()
        refreshTopics()
      })
    }
    tick++
  }, 1000)

  R.sidebar.addTab({ id: SIDEBAR_ID, label: t('sidebar.label'), name: t('sidebar.name'), iconClass: 'fa fa-bar-chart', content, enableOnEdit: true })
  showState()
  drawPlots()
}
