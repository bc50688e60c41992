/**
 * The bridges of the broker node's dialog (browser only): each bridge's remote broker (URL, a
 * tls-config picker for mqtts and wss, protocol, client id, keepalive, clean session, user name
 * and password) and its topic rules. Passwords are never shown or sent back: the runtime only
 * tells which bridges have one. A password typed here goes to the runtime once, in the
 * `newBridgePasswords` credential, keyed by the bridge's id.
 */
import type { EditorNodeInstance, JQ } from '../shared/editor-red'
import { bridgeFault, secureUrl, validBridgeName } from './bridge-checks'
import { setupRules } from './editor-bridge-rules'
import { el, getJson, listRows, mark, t } from './editor-common'
import { BRIDGE_EXTRAS, HOSTNAME_SETTING, TYPE, type BridgeNodeConfig, type BridgeRuleConfig } from './types'

export interface BridgesResult {
  bridges: BridgeNodeConfig[]
  /** Bridge id to its new password, or null to remove the stored one. */
  changes: Record<string, string | null>
}

interface BridgeRow {
  original: BridgeNodeConfig
  id: string
  name: JQ
  url: JQ
  tlsRow: JQ
  tls: () => string
  protocol: JQ
  clientId: JQ
  keepalive: JQ
  clean: JQ
  username: JQ
  password: JQ
  passwordState: JQ
  clear: JQ
  cleared: boolean
  rules: () => BridgeRuleConfig[]
  fault: JQ
}

/** Each tls-config picker needs an id of its own in the dialog. */
let pickers = 0

/** Is `id` a node of the flows? (RED.nodes.node answers undefined for an unknown id.) */
export const nodeExists = (id: string): boolean => (RED.nodes.node(id) ?? undefined) !== undefined

function pendingOf (creds: Record<string, unknown> | undefined): Record<string, string | null> {
  const v = creds?.newBridgePasswords
  if (typeof v !== 'string' || v === '' || v === '__PWRD__') return {}
  try {
    const o: unknown = JSON.parse(v)
    return typeof o === 'object' && o !== null ? o as Record<string, string | null> : {}
  } catch {
    return {}
  }
}

function readRow (r: BridgeRow): BridgeNodeConfig {
  const url = String(r.url.val() ?? '').trim()
  const extras: Record<string, unknown> = {}
  for (const k of BRIDGE_EXTRAS) if (r.original[k] !== undefined) extras[k] = r.original[k]
  return {
    ...extras,
    id: r.id,
    name: String(r.name.val() ?? '').trim(),
    url,
    tls: secureUrl(url) ? r.tls() : '',
    protocolVersion: String(r.protocol.val() ?? '') as BridgeNodeConfig['protocolVersion'],
    clientId: String(r.clientId.val() ?? '').trim(),
    keepalive: String(r.keepalive.val() ?? '').trim(),
    cleanSession: r.clean.is(':checked'),
    username: String(r.username.val() ?? ''),
    topics: r.rules(),
  }
}

/** A labelled line of a bridge. */
function line (container: JQ, label: string, cls = ''): JQ {
  const row = el(`<div class="${cls}" style="display:flex;gap:6px;align-items:center;margin-bottom:4px"></div>`).appendTo(container)
  el('<label style="width:90px;flex:none;margin:0"></label>').text(label).appendTo(row)
  return row
}

/** A tls-config picker (Node-RED's own: select, edit and add buttons) in `row`; returns a reader of the chosen id. */
function tlsPicker (node: EditorNodeInstance, row: JQ, value: string): () => string {
  const property = `hearthBridgeTls${++pickers}`
  const id = `node-input-${property}`
  el('<input type="text" style="width:100%">').attr('id', id).appendTo(row)
  const prepare = RED.editor?.prepareConfigNodeSelect
  if (prepare !== undefined) {
    // The picker reads node[property]: a view of the node that has it, so the node itself is not changed.
    const view = Object.create(node) as EditorNodeInstance
    view[property] = value
    prepare(view, property, 'tls-config', 'node-input')
  } else {
    const select = el('<select style="width:100%"></select>').attr('id', id)
    row.find(`#${id}`).remove()
    row.append(select)
    select.append(el('<option value=""></option>').text(t('label.none')))
    RED.nodes.eachConfig((n) => { if (n.type === 'tls-config') select.append(el('<option></option>').attr('value', n.id).text(String(n.name || n.id))) })
    select.val(value)
  }
  return () => {
    const v = String($(`#${id}`).val() ?? '')
    return v === '_ADD_' ? '' : v
  }
}

export function setupBridges (node: EditorNodeInstance): () => BridgesResult {
  const pending = pendingOf(node.credentials)
  let stored = new Set<string>()
  const hostname = typeof RED.settings[HOSTNAME_SETTING] === 'string' ? RED.settings[HOSTNAME_SETTING] as string : t('placeholder.hostname')
  const list = $('#hearth-broker-bridges')

  const rowsNow = (): BridgeRow[] => listRows<BridgeRow>(list, 'bridge')

  const refresh = (): void => {
    const rows = rowsNow()
    const names = rows.map(r => String(r.name.val() ?? '').trim())
    rows.forEach((r, i) => {
      const b = readRow(r)
      const secure = secureUrl(b.url)
      r.tlsRow.toggle(secure)
      r.clientId.attr('placeholder', `${validBridgeName(b.name) ? b.name : t('placeholder.bridgeName')}.${hostname}`)
      let fault = bridgeFault(b, nodeExists)
      if (fault === undefined && names.indexOf(b.name) !== i) fault = { key: 'bridge-duplicate', field: 'name' }
      for (const [field, input] of [['name', r.name], ['url', r.url], ['clientId', r.clientId], ['keepalive', r.keepalive]] as const) {
        mark(input, fault?.field !== field)
      }
      r.fault.text(fault === undefined ? '' : t(`invalid.${fault.key}`) + (fault.rule !== undefined ? ` (${t('bridge.field.rule', { n: fault.rule + 1 })})` : '')).toggle(fault !== undefined)

      const typed = String(r.password.val() ?? '') !== ''
      if (typed) r.cleared = false
      let state: string
      if (typed) state = 'new'
      else if (r.cleared) state = 'cleared'
      else if (pending[r.id] !== undefined) state = pending[r.id] === null ? 'cleared' : 'new'
      else if (stored.has(r.id)) state = 'set'
      else state = 'none'
      r.passwordState.text(t(`bridgePassword.${state}`))
      r.password.attr('placeholder', state === 'set' ? t('placeholder.unchanged') : '')
      r.clear.toggle(state === 'set' || state === 'new')
    })
  }

  list.editableList({
    addButton: t('label.addBridge'),
    removable: true,
    height: 'auto',
    addItem (container, _index, data) {
      const b = (data.topics !== undefined ? data : { id: RED.nodes.id(), name: '', url: '', tls: '', protocolVersion: '', clientId: '', keepalive: '', cleanSession: false, username: '', topics: [{ pattern: '', direction: 'out', qos: '0', localPrefix: '', remotePrefix: '' }] }) as BridgeNodeConfig
      const id = typeof b.id === 'string' && b.id !== '' ? b.id : String(b.name ?? '')
      container.addClass('hearth-broker-bridge')

      const first = line(container, t('label.bridgeName'))
      const name = el('<input type="text" class="hearth-broker-bridge-name" style="width:120px;flex:none">').attr('placeholder', t('placeholder.bridgeName')).appendTo(first)
      el('<label style="width:auto;margin:0 0 0 8px"></label>').text(t('label.url')).appendTo(first)
      const url = el('<input type="text" class="hearth-broker-bridge-url" style="flex:1 1 160px;min-width:0;width:auto">').attr('placeholder', t('placeholder.bridgeUrl')).appendTo(first)

      const tlsRow = line(container, t('label.tls'), 'hearth-broker-bridge-tls-row')
      const tlsBox = el('<div style="flex:1 1 auto;min-width:0"></div>').appendTo(tlsRow)
      const tls = tlsPicker(node, tlsBox, typeof b.tls === 'string' ? b.tls : '')

      const third = line(container, t('label.protocol'))
      const protocol = el('<select class="hearth-broker-bridge-protocol" style="width:165px;flex:none"></select>').appendTo(third)
      for (const [v, label] of [['', t('label.protocolAuto')], ['5', 'MQTT 5'], ['4', 'MQTT 3.1.1']]) protocol.append(el('<option></option>').attr('value', v).text(label))
      el('<label style="width:auto;margin:0 0 0 8px;white-space:nowrap"></label>').text(t('label.keepalive')).appendTo(third)
      const keepalive = el('<input type="text" class="hearth-broker-bridge-keepalive" style="width:60px;flex:none" placeholder="60">').appendTo(third)
      const cleanWrap = el('<label style="width:auto;margin:0 0 0 8px;white-space:nowrap"></label>').appendTo(third)
      const clean = el('<input type="checkbox" class="hearth-broker-bridge-clean" style="display:inline-block;width:auto;vertical-align:top;margin-right:4px">').appendTo(cleanWrap)
      cleanWrap.append(el('<span></span>').text(t('label.cleanSession')))

      const fourth = line(container, t('label.clientId'))
      const clientId = el('<input type="text" class="hearth-broker-bridge-client-id" style="flex:1 1 160px;min-width:0;width:auto">').appendTo(fourth)

      const fifth = line(container, t('label.bridgeUser'))
      const username = el('<input type="text" class="hearth-broker-bridge-username" autocomplete="off" style="width:130px;flex:none">').attr('placeholder', t('placeholder.noUser')).appendTo(fifth)
      const password = el('<input type="password" class="hearth-broker-bridge-password" autocomplete="new-password" style="width:130px;flex:none">').appendTo(fifth)
      const passwordState = el('<span class="hearth-broker-bridge-password-state" style="font-size:0.9em"></span>').appendTo(fifth)
      const clear = el('<a href="#" class="hearth-broker-bridge-password-clear" style="font-size:0.9em"></a>').text(t('label.removePassword')).appendTo(fifth)

      el('<div style="margin:6px 0 2px"></div>').text(t('label.rules')).appendTo(container)
      const rulesList = el('<ol class="hearth-broker-bridge-rules"></ol>').appendTo(container)
      const fault = el('<div class="hearth-broker-bridge-fault" style="margin-top:4px;color:var(--red-ui-text-color-error, #d00);font-size:0.9em"></div>').appendTo(container)

      name.val(String(b.name ?? ''))
      url.val(String(b.url ?? ''))
      protocol.val(['', '4', '5'].includes(String(b.protocolVersion ?? '')) ? String(b.protocolVersion ?? '') : '')
      keepalive.val(String(b.keepalive ?? ''))
      clean.prop('checked', b.cleanSession === true)
      clientId.val(String(b.clientId ?? ''))
      username.val(String(b.username ?? ''))
      const row: BridgeRow = {
        original: b, id, name, url, tlsRow, tls, protocol, clientId, keepalive, clean, username, password, passwordState, clear, cleared: false,
        rules: () => [],
        fault,
      }
      container.data('bridge', row)
      row.rules = setupRules(rulesList, Array.isArray(b.topics) ? b.topics.map(r => ({ ...r })) : [], refresh)
      clear.on('click', (e) => { e.preventDefault(); password.val(''); row.cleared = true; refresh() })
      for (const input of [name, url, protocol, keepalive, clean, clientId, username, password]) {
        input.on('change', refresh)
        input.on('input', refresh)
      }
      tlsRow.find('select').on('change', refresh)
      refresh()
    },
    removeItem () { refresh() },
  })
  for (const b of Array.isArray(node.bridges) ? node.bridges as BridgeNodeConfig[] : []) list.editableList('addItem', { ...b } as unknown as Record<string, unknown>)

  getJson(`${TYPE}/${encodeURIComponent(node.id)}/bridges`).then((answer) => {
    stored = new Set(Array.isArray(answer.withPassword) ? answer.withPassword as string[] : [])
    refresh()
  }, () => { refresh() })

  return () => {
    const bridges: BridgeNodeConfig[] = []
    const changes: Record<string, string | null> = {}
    for (const r of rowsNow()) {
      bridges.push(readRow(r))
      const typed = String(r.password.val() ?? '')
      if (typed !== '') changes[r.id] = typed
      else if (r.cleared) changes[r.id] = null
      else if (pending[r.id] !== undefined) changes[r.id] = pending[r.id]
    }
    return { bridges, changes }
  }
}
