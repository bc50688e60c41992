/** The listeners table of the broker node's edit dialog (browser only). */
import type { JQ } from '../shared/editor-red'
import { el, mark, t } from './editor-common'
import {
  LISTENER_KINDS, MAX_LISTENERS, PORT_RANGE, isSecure, isWebSocket, nodeRedPath, parseIntIn, validHost, validPath,
  type ListenerConfig, type ListenerKind,
} from './types'

/** What is wrong with a listener (a catalog key under hearth-broker.invalid.), or undefined. */
function listenerProblem (l: ListenerConfig): string | undefined {
  if (!LISTENER_KINDS.includes(l.kind)) return 'kind'
  const typed = String(l.path ?? '').trim()
  const path = typed !== '' && !typed.startsWith('/') ? `/${typed}` : typed
  if (l.kind === 'nodered') return validPath(path) ? undefined : 'path-required'
  if (parseIntIn(l.port, PORT_RANGE.min, PORT_RANGE.max) === undefined) return 'port'
  if (!validHost(String(l.host ?? '').trim())) return 'host'
  if (isWebSocket(l.kind) && path !== '' && !validPath(path)) return 'path'
  return undefined
}

/** What is wrong with the whole list, or undefined. */
export function listenersProblem (list: unknown): string | undefined {
  if (!Array.isArray(list)) return undefined // a flow saved before listeners existed: its port and host
  if (list.length === 0) return 'no-listener'
  if (list.length > MAX_LISTENERS) return 'too-many'
  for (const l of list as ListenerConfig[]) {
    const p = listenerProblem(l)
    if (p !== undefined) return p
  }
  return undefined
}

interface Row {
  kind: JQ
  port: JQ
  host: JQ
  path: JQ
  requireCertificate: JQ
  useIdentityAsUsername: JQ
  trustProxy: JQ
}

function checkbox (cls: string, label: string): { box: JQ, wrap: JQ } {
  const wrap = el(`<label class="hearth-broker-check ${cls}" style="width:auto;margin:4px 14px 0 0"></label>`)
  const box = el('<input type="checkbox" style="display:inline-block;width:auto;vertical-align:top;margin-right:4px">').appendTo(wrap)
  wrap.append(el('<span></span>').text(label))
  return { box, wrap }
}

function readRow (r: Row): ListenerConfig {
  const kind = String(r.kind.val()) as ListenerKind
  const l: ListenerConfig = { kind }
  if (kind !== 'nodered') {
    l.port = String(r.port.val() ?? '').trim()
    l.host = String(r.host.val() ?? '').trim()
  }
  if (isWebSocket(kind)) {
    l.path = String(r.path.val() ?? '').trim()
    l.trustProxy = r.trustProxy.is(':checked')
  }
  if (isSecure(kind)) {
    l.requireCertificate = r.requireCertificate.is(':checked')
    l.useIdentityAsUsername = l.requireCertificate && r.useIdentityAsUsername.is(':checked')
  }
  return l
}

/**
 * Build the listeners table in `#hearth-broker-listeners`. `onChange` runs after every edit (the
 * TLS row and the exposure summary depend on it). Returns a reader for oneditsave.
 */
export function setupListeners (initial: ListenerConfig[], onChange: () => void): () => ListenerConfig[] {
  const list = $('#hearth-broker-listeners')
  list.editableList({
    addButton: t('label.addListener'),
    removable: true,
    sortable: true,
    height: 'auto',
    addItem (container, _index, data) {
      const l = (data.kind !== undefined ? data : { kind: 'mqtt', port: '1883', host: '' }) as unknown as ListenerConfig
      const line1 = el('<div style="display:flex;gap:6px;align-items:center"></div>').appendTo(container)
      const kind = el('<select class="hearth-broker-listener-kind" style="width:210px;flex:none"></select>').appendTo(line1)
      for (const k of LISTENER_KINDS) kind.append(el('<option></option>').attr('value', k).text(t(`kind.${k}`)))
      const port = el('<input type="text" class="hearth-broker-listener-port" style="width:70px;flex:none">').attr('placeholder', t('placeholder.port')).appendTo(line1)
      const host = el('<input type="text" class="hearth-broker-listener-host" style="flex:1 1 100px;min-width:0;width:auto">').attr('placeholder', t('placeholder.host')).appendTo(line1)
      const path = el('<input type="text" class="hearth-broker-listener-path" style="flex:1 1 90px;min-width:0;width:auto">').appendTo(line1)
      const line2 = el('<div style="display:flex;flex-wrap:wrap;margin-top:2px"></div>').appendTo(container)
      const cert = checkbox('hearth-broker-listener-cert', t('label.requireCertificate'))
      const identity = checkbox('hearth-broker-listener-identity', t('label.useIdentityAsUsername'))
      const proxy = checkbox('hearth-broker-listener-proxy', t('label.trustProxy'))
      line2.append(cert.wrap).append(identity.wrap).append(proxy.wrap)
      const hint = el('<div class="hearth-broker-listener-hint" style="margin-top:4px;font-size:0.9em;opacity:0.85"></div>').appendTo(container)
      const row: Row = { kind, port, host, path, requireCertificate: cert.box, useIdentityAsUsername: identity.box, trustProxy: proxy.box }
      container.data('row', row)

      kind.val(l.kind)
      port.val(String(l.port ?? ''))
      host.val(String(l.host ?? ''))
      path.val(String(l.path ?? ''))
      cert.box.prop('checked', l.requireCertificate === true)
      identity.box.prop('checked', l.useIdentityAsUsername === true)
      proxy.box.prop('checked', l.trustProxy === true)

      const update = (): void => {
        const k = String(kind.val()) as ListenerKind
        const own = k !== 'nodered'
        port.toggle(own)
        host.toggle(own)
        path.toggle(isWebSocket(k))
        path.attr('placeholder', k === 'nodered' ? '/mqtt' : t('placeholder.anyPath'))
        cert.wrap.toggle(isSecure(k))
        identity.wrap.toggle(isSecure(k) && cert.box.is(':checked'))
        proxy.wrap.toggle(isWebSocket(k))
        hint.toggle(k === 'nodered')
        if (k === 'nodered') hint.text(t('tip.nodered', { path: nodeRedPath(RED.settings, String(path.val() ?? '').trim() || '/mqtt') }))
        const problem = listenerProblem(readRow(row))
        mark(port, problem !== 'port')
        mark(host, problem !== 'host')
        mark(path, problem !== 'path' && problem !== 'path-required')
        onChange()
      }
      kind.on('change', () => {
        // A WebSocket on Node-RED's port needs a path: offer the usual one.
        if (String(kind.val()) === 'nodered' && String(path.val() ?? '').trim() === '') path.val('/mqtt')
      })
      for (const input of [kind, port, host, path, cert.box, identity.box, proxy.box]) {
        input.on('change', update)
        input.on('input', update)
      }
      update()
    },
    removeItem () { onChange() },
  })
  for (const l of initial) list.editableList('addItem', l as unknown as Record<string, unknown>)

  return () => {
    const out: ListenerConfig[] = []
    list.editableList('items').each(function () {
      const row = $(this).data('row') as Row | undefined
      if (row !== undefined) out.push(readRow(row))
    })
    return out
  }
}
