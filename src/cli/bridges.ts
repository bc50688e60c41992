/*
 * The CLI's bridges: the `bridges` key of the config file checked (each problem a ConfigError
 * naming bridges[i].key, exit code 2), their TLS files read before anything is bound, and one line
 * per bridge at start and per change of state.
 */
import type { Broker } from '../broker'
import {
  BridgeConfigError, createBridge, loadBridgeTls, resolveBridgeConfig, type Bridge, type BridgeConfig, type BridgeStatus,
} from '../bridge'
import { ConfigError, isObject, type Obj } from './validate'

/** A BridgeConfigError as the CLI's ConfigError, its key under `at` ('bridges[0]'). */
function asConfigError (err: unknown, at: string): unknown {
  if (!(err instanceof BridgeConfigError)) return err
  const key = err.key === '(bridge)' ? at : `${at}.${err.key}`
  return new ConfigError(err.code, key, err.message.slice(err.key.length + 2))
}

/**
 * Check every bridge of the file (pure: no file is read). `resolvePath` makes a relative TLS path
 * start at the config file's folder. Names and client ids must differ between bridges.
 */
export function checkBridges (list: unknown[], resolvePath: (p: string) => string): BridgeConfig[] {
  const names = new Map<string, string>()
  const ids = new Map<string, string>()
  return list.map((raw, i) => {
    const at = `bridges[${i}]`
    if (!isObject(raw)) throw new ConfigError('BAD_TYPE', at, 'must be an object')
    const cfg: Obj = { ...raw }
    for (const k of ['ca', 'cert', 'key']) {
      const v = cfg[k]
      if (typeof v === 'string' && v !== '') cfg[k] = resolvePath(v)
    }
    let r
    try {
      r = resolveBridgeConfig(cfg)
    } catch (err) {
      throw asConfigError(err, at)
    }
    const sameName = names.get(r.name)
    if (sameName !== undefined) throw new ConfigError('CONFLICT', `${at}.name`, `"${r.name}" is also the name of ${sameName}`)
    names.set(r.name, at)
    const sameId = ids.get(r.localClientId)
    if (sameId !== undefined) throw new ConfigError('CONFLICT', `${at}.clientId`, `${sameId} has the same client id (${r.clientId})`)
    ids.set(r.localClientId, at)
    return cfg as unknown as BridgeConfig
  })
}

/** Read and check each bridge's TLS files; the configs returned carry their contents. Throws a ConfigError. */
export function loadBridgeFiles (configs: BridgeConfig[]): BridgeConfig[] {
  return configs.map((cfg, i) => {
    try {
      const tls = loadBridgeTls(resolveBridgeConfig(cfg))
      if (tls === undefined) return cfg
      const out: BridgeConfig = { ...cfg }
      if (tls.ca !== undefined) out.ca = tls.ca
      if (tls.cert !== undefined) out.cert = tls.cert
      if (tls.key !== undefined) out.key = tls.key
      return out
    } catch (err) {
      throw asConfigError(err, `bridges[${i}]`)
    }
  })
}

const PROTOCOL_NAMES: Record<number, string> = { 3: 'MQTT 3.1', 4: 'MQTT 3.1.1', 5: 'MQTT 5' }

/** Start the bridges, with a line for each at start and when its state changes (a repeated failure once). */
export function startBridges (broker: Broker, configs: BridgeConfig[], out: (line: string) => void, warn: (line: string) => void): Bridge[] {
  return configs.map(cfg => {
    out(`hearth-broker bridge ${cfg.name} connecting to ${cfg.url}`)
    const b = createBridge(broker, cfg)
    let lastProblem: string | undefined
    b.on('state', (s: BridgeStatus) => {
      if (s.state === 'connected') {
        lastProblem = undefined
        out(`hearth-broker bridge ${s.name} connected to ${s.url} (${PROTOCOL_NAMES[s.protocolVersion]}${s.sessionPresent === true ? ', session present' : ''})`)
      } else if (s.state === 'disconnected' && s.lastError !== undefined && s.lastError.message !== lastProblem) {
        lastProblem = s.lastError.message
        const wait = s.retryAt === undefined ? '' : `; retrying in ${Math.max(0, Math.round((s.retryAt - Date.now()) / 100) / 10)} s`
        out(`hearth-broker bridge ${s.name} disconnected from ${s.url}: ${s.lastError.message}${wait}`)
      }
    })
    b.on('warning', w => warn(`warning: bridge ${cfg.name}: ${w.message}${w.error !== undefined ? ': ' + w.error.message : ''}`))
    return b
  })
}
