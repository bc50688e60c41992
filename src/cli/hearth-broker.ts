/*
 * hearth-broker: the broker core without Node-RED.
 *   hearth-broker [--port 1883] [--host 127.0.0.1] [--config broker.json] [--persistence-dir DIR] ...
 * Settings are checked in config.ts (exit code 2 for any config problem); runtime failures such
 * as a port in use exit with code 1. One line per listener once it serves.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { createBroker, FilePersistence, OptionError, type Broker, type BrokerOptions } from '../broker'
import { MqttListener, ListenerError, type ListenerOptions } from '../listeners'
import { releaseLoadMemory } from './load-memory'
import { lowerHelperThreads } from './thread-priority'
import { parseArgs, USAGE } from './args'
import { resolveConfig, type CliSettings, type ListenerSpec } from './config'
import { loadTls } from './tls-files'
import { loadAccess, type Access } from './access'
import { loadBridgeFiles, startBridges } from './bridges'
import type { Bridge, BridgeConfig } from '../bridge'
import { ConfigError } from './validate'
import { startMetricsServer, type MetricsServer } from './metrics-server'

const CONFIG_ERROR = 2
const RUNTIME_ERROR = 1

function say (line: string): void { process.stderr.write(`hearth-broker: ${line}\n`) }

/** Settings from argv and the config file; throws a ConfigError. */
export function loadSettings (argv: string[]): { settings: CliSettings, help: boolean } {
  const { flags, configFile, help } = parseArgs(argv)
  let file: { data: unknown, dir: string } | undefined
  if (configFile !== undefined) {
    const path = resolve(configFile)
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      throw new ConfigError('UNREADABLE', '--config', `cannot read config file ${configFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    try {
      file = { data: JSON.parse(text), dir: dirname(path) }
    } catch (err) {
      throw new ConfigError('UNREADABLE', '--config', `config file ${configFile} is not valid JSON: ${(err as Error).message}`)
    }
  }
  return { settings: resolveConfig({ file, flags }), help }
}

/** Listener options of every spec, TLS files read and checked; throws a ConfigError. */
function listenerOptions (settings: CliSettings): ListenerOptions[] {
  return settings.listeners.map((spec: ListenerSpec) => {
    const o: ListenerOptions = {
      protocol: spec.protocol,
      port: spec.port,
      host: spec.host,
      path: spec.path,
      trustProxy: spec.trustProxy,
      maxPacketSize: settings.broker.maxPacketSize,
      onError: (err) => say(`warning: listener ${spec.protocol} port ${spec.port}: ${err.message}`),
      // A failed handshake concerns one client: not worth a line per attempt.
      onClientError: () => {},
    }
    if (spec.protocol === 'mqtts' || spec.protocol === 'wss') o.tls = loadTls(spec)
    return o
  })
}

function createFromSettings (settings: CliSettings, access: Access): Broker {
  const p = settings.persistence
  const persistence: BrokerOptions['persistence'] = p === undefined
    ? undefined
    : new FilePersistence({
        dir: p.dir,
        syncMode: p.sync,
        flushInterval: p.flushInterval,
        maxStoreBytes: p.maxStoreBytes,
        maxPendingBytes: p.maxPendingBytes,
        onWarning: (m: string, err?: Error) => say(`warning: ${m}${err ? ': ' + err.message : ''}`),
      })
  return createBroker({
    ...settings.broker,
    persistence,
    authenticate: access.authenticate,
    authorize: access.authorize,
  })
}

/** A broker option the core refused, said as "NAME: ..." like the other config errors. */
function optionProblem (err: OptionError): string {
  const r = err.range
  return r !== undefined
    ? `${err.option}: must be an integer from ${r.min} to ${r.max}, got ${String(err.value)}`
    : `${err.option}: invalid value ${JSON.stringify(err.value)}`
}

function listenFailure (o: ListenerOptions, err: NodeJS.ErrnoException): string {
  const where = `${o.protocol} ${o.host ?? '(every interface)'}:${o.port}`
  if (err.code === 'EADDRINUSE') return `cannot listen on ${where}: port ${o.port} is already in use`
  return `cannot listen on ${where}: ${err.message}`
}

export async function main (argv: string[]): Promise<void> {
  let settings: CliSettings
  let options: ListenerOptions[]
  let bridgeConfigs: BridgeConfig[]
  let broker: Broker
  let access: Access
  try {
    const loaded = loadSettings(argv)
    if (loaded.help) { process.stdout.write(USAGE + '\n'); return }
    lowerHelperThreads() // before anything starts libuv's pool, whose threads keep the event loop's priority
    settings = loaded.settings
    options = listenerOptions(settings)
    bridgeConfigs = loadBridgeFiles(settings.bridges ?? [])
    access = await loadAccess(settings)
    broker = createFromSettings(settings, access)
  } catch (err) {
    if (err instanceof ConfigError || err instanceof OptionError || err instanceof ListenerError) {
      say(err instanceof OptionError ? optionProblem(err) : err.message)
      if (err instanceof ConfigError && err.code === 'BAD_ARGUMENT') process.stderr.write(USAGE + '\n')
      process.exitCode = CONFIG_ERROR
      return
    }
    throw err
  }
  broker.on('warning', w => say(`warning: ${w.message}${w.error ? ': ' + w.error.message : ''}`))

  // Bind every port first (clients that connect while the state loads wait), then serve.
  const listeners: MqttListener[] = []
  let metrics: MetricsServer | undefined
  const fail = async (text: string, code: number): Promise<void> => {
    say(text)
    await Promise.all(listeners.map(l => l.close()))
    await metrics?.close()
    await broker.close().catch(() => undefined)
    process.exitCode = code
  }
  for (const o of options) {
    try {
      listeners.push(await MqttListener.open(o))
    } catch (err) {
      if (err instanceof ListenerError) return fail(err.message, CONFIG_ERROR)
      return fail(listenFailure(o, err as NodeJS.ErrnoException), RUNTIME_ERROR)
    }
  }
  try {
    await broker.ready
  } catch (err) {
    return fail((err as Error).message, RUNTIME_ERROR)
  }
  if (settings.persistence !== undefined) releaseLoadMemory() // the young generation the load grew (see load-memory.ts)
  for (const l of listeners) {
    l.serve(broker)
    process.stdout.write(`hearth-broker listening on ${l.url}\n`)
  }
  const bridges: Bridge[] = startBridges(broker, bridgeConfigs, line => process.stdout.write(line + '\n'), say)
  const m = settings.metrics
  if (m !== undefined) {
    try {
      metrics = await startMetricsServer(broker, m.host, m.port)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      return fail(`cannot serve metrics on ${m.host}:${m.port}: ${e.code === 'EADDRINUSE' ? `port ${m.port} is already in use` : e.message}`, RUNTIME_ERROR)
    }
    process.stdout.write(`hearth-broker metrics on ${metrics.url}\n`)
  }

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    Promise.all(bridges.map(b => b.close())).then(() => Promise.all([...listeners.map(l => l.close()), metrics?.close(), broker.close()])).then(() => process.exit(0), err => {
      say(`error while stopping on ${signal}: ${(err as Error).message}`)
      process.exit(1)
    })
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
  // SIGHUP re-reads the password and ACL files; connections stay (as Mosquitto).
  process.on('SIGHUP', () => {
    access.reload().then(line => say(line), err => say(`could not reload, the previous rules stay in force: ${(err as Error).message}`))
  })
}
