/**
 * The broker node's bridges: each bridge of the node's config turned into the bridge module's
 * config (TLS from a tls-config node, the password from the credentials, Mosquitto's defaults
 * left to the module), started once the broker serves, reported (state events, a short status,
 * listBridges) and closed before the broker. A bridge whose settings are wrong is refused on its
 * own, with an error naming it and the field: the broker and the other bridges run.
 */
import { BridgeConfigError, createBridge, resolveBridgeConfig, type Bridge, type BridgeConfig, type BridgeStatus } from '../../bridge'
import type { Broker } from '../../broker'
import { readFlag } from '../shared/values'
import { secureUrl } from './bridge-checks'
import { bridgeKey } from './bridge-secrets'
import { ConfigError } from './config'
import type { BridgeTls } from './tls'
import { BRIDGE_EXTRAS, type BridgeNodeConfig, type BridgeRuleConfig } from './types'

/** A bridge that was not started: its settings are wrong. */
interface RefusedBridge {
  name: string
  state: 'refused'
  url: string
  /** `code`: the bridge module's config error code (BAD_VALUE, CONFLICT, ...) or TLS; `key`: the setting ('topics[1].pattern'). */
  lastError: { code: string, key: string, message: string }
}

export type BridgeReport = BridgeStatus | RefusedBridge

export interface BridgeHost {
  /** TLS settings of a tls-config node; throws a ConfigError. */
  tls: (id: string) => BridgeTls
  /** The stored password of a bridge (by key). */
  password: (key: string) => string | undefined
  /** A state change (or a refusal at start): the output event, and a status repaint. */
  changed: (report: BridgeReport) => void
  warn: (text: string) => void
  error: (text: string) => void
  /** A message of the node's catalog (key under `hearth-broker.`). */
  t: (key: string, subs?: Record<string, string | number>) => string
}

interface Entry { name: string, bridge?: Bridge, refused?: RefusedBridge }

/** Warnings of one bridge logged per minute; more are counted and reported once the minute is over. */
const WARNINGS_PER_MINUTE = 5
/** How long closing a bridge may take before the broker closes anyway. */
const CLOSE_TIMEOUT_MS = 10000

const text = (v: unknown): string => typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : ''
/** A whole number from the form, or the value as given (the bridge module then says what is wrong with it). */
const number = (v: unknown): unknown => typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v

function ruleOf (r: BridgeRuleConfig): Record<string, unknown> {
  const row = (typeof r === 'object' && r !== null ? r : {}) as Partial<BridgeRuleConfig>
  const out: Record<string, unknown> = { pattern: row.pattern }
  if (text(row.direction) !== '') out.direction = row.direction
  if (text(row.qos) !== '') out.qos = number(row.qos)
  if (typeof row.localPrefix === 'string' && row.localPrefix !== '') out.localPrefix = row.localPrefix
  if (typeof row.remotePrefix === 'string' && row.remotePrefix !== '') out.remotePrefix = row.remotePrefix
  return out
}

/** The bridge module's config for a bridge of the node (its TLS and password included). Throws ConfigError for TLS. */
function configOf (raw: BridgeNodeConfig, host: BridgeHost, ignored: (what: string[]) => void): BridgeConfig {
  const c: Record<string, unknown> = { name: text(raw.name), url: text(raw.url), topics: Array.isArray(raw.topics) ? raw.topics.map(ruleOf) : raw.topics }
  if (text(raw.protocolVersion) !== '') c.protocolVersion = number(raw.protocolVersion)
  if (text(raw.clientId) !== '') c.clientId = text(raw.clientId)
  if (text(raw.keepalive) !== '') c.keepalive = number(text(raw.keepalive))
  c.cleanSession = readFlag(raw.cleanSession, false)
  if (typeof raw.username === 'string' && raw.username !== '') {
    c.username = raw.username
    // A password without a user name is not sent: clearing the user name turns authentication off.
    const password = host.password(bridgeKey(raw))
    if (password !== undefined) c.password = password
  }
  for (const k of BRIDGE_EXTRAS) if (raw[k] !== undefined && raw[k] !== '') c[k] = raw[k]
  if (secureUrl(raw.url) && text(raw.tls) !== '') {
    const t = host.tls(text(raw.tls))
    for (const k of ['ca', 'cert', 'key', 'keyPassphrase'] as const) if (t[k] !== undefined) c[k] = t[k]
    c.rejectUnauthorized = t.rejectUnauthorized
    if (t.ignored.length > 0) ignored(t.ignored)
  }
  return c as unknown as BridgeConfig
}

/** The field a config error names, for the status ('url', 'rule 2', 'TLS'). */
function fieldOf (key: string, t: BridgeHost['t']): string {
  const rule = /^topics\[(\d+)\]/.exec(key)
  if (rule !== null) return t('bridge.field.rule', { n: Number(rule[1]) + 1 })
  const root = key.replace(/\[.*$/, '').split('.')[0]
  if (['ca', 'cert', 'key', 'keyPassphrase', 'rejectUnauthorized', 'tls'].includes(root)) return t('bridge.field.tls')
  return LABELLED.includes(root) ? t(`bridge.field.${root}`) : root
}

/** Settings with a label of their own in the catalog (`hearth-broker.bridge.field.*`); others show their key. */
const LABELLED = ['name', 'url', 'protocolVersion', 'clientId', 'username', 'password', 'keepalive', 'topics']

export class NodeBridges {
  private readonly entries: Entry[] = []
  private readonly detachers: Array<() => void> = []
  private closed = false

  /** Start every bridge of `list` on `broker` (refusing those whose settings are wrong). */
  constructor (broker: Broker, list: unknown, private readonly host: BridgeHost) {
    if (!Array.isArray(list)) return
    const names = new Set<string>()
    const localIds = new Set<string>()
    ;(list as unknown[]).forEach((item, i) => {
      const raw = (typeof item === 'object' && item !== null ? item : {}) as BridgeNodeConfig
      const label = typeof raw.name === 'string' && raw.name.trim() !== '' ? raw.name.trim() : `#${i + 1}`
      const url = typeof raw.url === 'string' ? raw.url : ''
      const refuse = (code: string, key: string, message: string): void => {
        const refused: RefusedBridge = { name: label, state: 'refused', url, lastError: { code, key, message } }
        this.entries.push({ name: label, refused })
        host.error(host.t('errors.bridge-refused', { name: label, field: fieldOf(key, host.t), message }))
      }
      try {
        const cfg = configOf(raw, host, (what) => host.warn(host.t('warnings.bridge-tls-ignored', { name: label, settings: what.join(', ') })))
        const resolved = resolveBridgeConfig(cfg)
        if (names.has(resolved.name)) return refuse('CONFLICT', 'name', host.t('errors.bridge-same-name'))
        if (localIds.has(resolved.localClientId)) return refuse('CONFLICT', 'clientId', host.t('errors.bridge-same-client-id', { clientId: resolved.clientId }))
        const bridge = createBridge(broker, cfg)
        names.add(resolved.name)
        localIds.add(resolved.localClientId)
        this.entries.push({ name: resolved.name, bridge })
        this.watch(bridge)
      } catch (err) {
        if (err instanceof BridgeConfigError) return refuse(err.code, err.key, err.message)
        if (err instanceof ConfigError) return refuse('TLS', 'tls', host.t(`errors.${err.problem.key}`, err.problem.subs))
        return refuse('INTERNAL', '(bridge)', (err as Error).message)
      }
    })
    for (const e of this.entries) if (e.refused !== undefined) host.changed(e.refused)
  }

  private watch (bridge: Bridge): void {
    let windowStart = Date.now()
    let shown = 0
    let hidden = 0
    const onState = (s: BridgeStatus): void => { if (!this.closed) this.host.changed(s) }
    const onWarning = (w: { message: string, error?: Error }): void => {
      const now = Date.now()
      if (now - windowStart >= 60000) {
        if (hidden > 0) this.host.warn(this.host.t('warnings.bridge-more', { name: bridge.name, count: hidden }))
        windowStart = now
        shown = 0
        hidden = 0
      }
      if (shown >= WARNINGS_PER_MINUTE) { hidden++; return }
      shown++
      const detail = w.error !== undefined && !w.message.includes(w.error.message) ? `${w.message}: ${w.error.message}` : w.message
      this.host.warn(this.host.t('warnings.bridge', { name: bridge.name, message: detail }))
    }
    bridge.on('state', onState)
    bridge.on('warning', onWarning)
    this.detachers.push(() => { bridge.off('state', onState); bridge.off('warning', onWarning) })
  }

  /** Each bridge's status (bridge.status()), and the refused ones, in the node's order. */
  list (): BridgeReport[] {
    return this.entries.map(e => e.bridge !== undefined ? e.bridge.status() : e.refused as RefusedBridge)
  }

  /** The bridges' part of the node's status (short), and whether one is down; undefined with no bridge. */
  summary (): { text: string, down: boolean } | undefined {
    const reports = this.list()
    if (reports.length === 0) return undefined
    const t = this.host.t
    let down = false
    const marks = reports.map((r) => {
      if (r.state === 'connected') return `${r.name} ✓`
      if (r.state === 'connecting' && r.lastError === undefined) return `${r.name} …`
      down = true
      if (r.state === 'refused') return `${r.name} ✗ ${t('bridge.bad', { field: fieldOf(r.lastError.key, t) })}`
      const e = r.lastError
      if (e === undefined) return `${r.name} ✗`
      const reason = e.code === 'REFUSED' && e.reasonCode !== undefined
        ? t('bridge.reason.REFUSED-code', { code: `0x${e.reasonCode.toString(16).padStart(2, '0')}` })
        : t(`bridge.reason.${e.code}`)
      return `${r.name} ✗ ${reason}`
    })
    if (reports.length === 1) return { text: `${t('status.bridge')} ${marks[0]}`, down }
    if (reports.length <= 3) return { text: `${t('status.bridges')} ${marks.join(', ')}`, down }
    const up = reports.filter(r => r.state === 'connected').length
    return { text: `${t('status.bridges')} ${up}/${reports.length} ✓`, down }
  }

  /** Close every bridge: '0' on its state topic at the remote and here, DISCONNECT; their sessions stay. Never rejects. */
  async close (): Promise<void> {
    this.closed = true
    for (const d of this.detachers.splice(0)) d()
    const all = Promise.all(this.entries.map(e => e.bridge?.close() ?? Promise.resolve())).then(() => undefined)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, CLOSE_TIMEOUT_MS) })
    await Promise.race([all, late])
    clearTimeout(timer)
  }
}
