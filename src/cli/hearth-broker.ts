/*
 * hearth-broker: the broker core without Node-RED.
 *   hearth-broker --port 1883 --host 127.0.0.1 [--config broker.json] [--persistence-dir DIR]
 * The JSON file may hold any broker option plus port and host (and users: {name: password}).
 */
import { readFileSync } from 'node:fs'
import { createBroker, UserTableAuthenticator, FilePersistence, type BrokerOptions } from '../broker'

interface CliConfig extends Omit<BrokerOptions, 'persistence' | 'authenticate' | 'authorize'> {
  port?: number
  host?: string
  users?: Record<string, string>
  allowAnonymous?: boolean
  persistenceDir?: string
  /** 'always' (fsync before every acknowledgement, the default) or 'periodic'. */
  persistenceSync?: 'always' | 'periodic'
  /** Milliseconds between flushes with persistenceSync 'periodic'. */
  persistenceFlushInterval?: number
}

const USAGE = `usage: hearth-broker [--port 1883] [--host 0.0.0.0] [--config broker.json] [--persistence-dir DIR] [--persistence-sync always|periodic]
  --port N              TCP port (default 1883; 0 picks a free port)
  --host ADDR           bind address (default all interfaces)
  --config FILE         JSON file with broker options (see README)
  --persistence-dir DIR keep retained messages and sessions on disk in DIR
  --persistence-sync M  'always' (fsync before each acknowledgement, default) or 'periodic'
  --help                this text`

export function parseArgs (argv: string[]): { config: CliConfig, help: boolean } {
  const config: CliConfig = {}
  let file: CliConfig = {}
  let help = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    switch (a) {
      case '--port': case '-p': {
        const n = Number(value())
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port must be 0..65535, got ${argv[i]}`)
        config.port = n
        break
      }
      case '--host': case '-h': config.host = value(); break
      case '--config': case '-c': {
        const path = value()
        try {
          file = JSON.parse(readFileSync(path, 'utf8')) as CliConfig
        } catch (err) {
          throw new Error(`cannot read config file ${path}: ${(err as Error).message}`)
        }
        break
      }
      case '--persistence-dir': config.persistenceDir = value(); break
      case '--persistence-sync': {
        const v = value()
        if (v !== 'always' && v !== 'periodic') throw new Error(`--persistence-sync must be 'always' or 'periodic', got ${v}`)
        config.persistenceSync = v
        break
      }
      case '--help': help = true; break
      default: throw new Error(`unknown argument ${a}`)
    }
  }
  return { config: { ...file, ...config }, help }
}

function filePersistence (dir: string, syncMode: 'always' | 'periodic' | undefined, flushInterval: number | undefined): BrokerOptions['persistence'] {
  return new FilePersistence({
    dir,
    syncMode,
    flushInterval,
    onWarning: (m: string, err?: Error) => process.stderr.write(`hearth-broker: warning: ${m}${err ? ': ' + err.message : ''}\n`),
  })
}

export async function main (argv: string[]): Promise<void> {
  let parsed
  try {
    parsed = parseArgs(argv)
  } catch (err) {
    process.stderr.write(`hearth-broker: ${(err as Error).message}\n${USAGE}\n`)
    process.exitCode = 2
    return
  }
  if (parsed.help) { process.stdout.write(USAGE + '\n'); return }
  const { port = 1883, host, users, allowAnonymous, persistenceDir, persistenceSync, persistenceFlushInterval, ...options } = parsed.config
  let broker
  try {
    const persistence = persistenceDir ? filePersistence(persistenceDir, persistenceSync, persistenceFlushInterval) : undefined
    broker = createBroker({
      ...options,
      persistence,
      authenticate: new UserTableAuthenticator(users ?? {}, { allowAnonymous: allowAnonymous ?? users === undefined }),
    })
    await broker.ready
  } catch (err) {
    process.stderr.write(`hearth-broker: ${(err as Error).message}\n`)
    process.exitCode = 1
    return
  }
  broker.on('warning', w => process.stderr.write(`hearth-broker: warning: ${w.message}${w.error ? ': ' + w.error.message : ''}\n`))
  try {
    const addr = await broker.listen({ port, host })
    const shown = addr.host.includes(':') ? `[${addr.host}]` : addr.host
    process.stdout.write(`hearth-broker listening on mqtt://${shown}:${addr.port}\n`)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const what = e.code === 'EADDRINUSE' ? `port ${port} is already in use` : e.message
    process.stderr.write(`hearth-broker: cannot listen on ${host ?? '0.0.0.0'}:${port}: ${what}\n`)
    await broker.close()
    process.exitCode = 1
    return
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    broker.close().then(() => process.exit(0), err => {
      process.stderr.write(`hearth-broker: error while stopping on ${signal}: ${(err as Error).message}\n`)
      process.exit(1)
    })
  }
  process.once('SIGINT', () => stop('SIGINT'))
  process.once('SIGTERM', () => stop('SIGTERM'))
}
