/** The command line of hearth-broker: flags only, no file is read here. */
import { ConfigError } from './validate'
import type { CliFlags } from './config'

export interface ParsedArgs {
  flags: CliFlags
  /** --config FILE, as typed. */
  configFile?: string
  help: boolean
}

export const USAGE = `usage: hearth-broker [--port 1883] [--host 127.0.0.1] [--config broker.json] [--persistence-dir DIR]
                     [--persistence-sync always|periodic] [--password-file FILE] [--acl-file FILE]
  --port N              a plain MQTT (TCP) listener on port N (0 picks a free port), on 127.0.0.1 unless --host
  --host ADDR           bind address of that listener (default 127.0.0.1; 0.0.0.0 or :: for every interface)
  --config FILE         JSON file with listeners, accounts and broker options (see README)
  --persistence-dir DIR keep retained messages and sessions on disk in DIR
  --persistence-sync M  'always' (fsync before each acknowledgement, default) or 'periodic'
  --password-file FILE  Mosquitto password file (reserved)
  --acl-file FILE       Mosquitto ACL file (reserved)
  --help                this text
With neither --port, --host nor listeners in the config file, hearth-broker listens on mqtt://127.0.0.1:1883.`

export function parseArgs (argv: string[]): ParsedArgs {
  const flags: CliFlags = {}
  let configFile: string | undefined
  let help = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new ConfigError('BAD_ARGUMENT', a, 'needs a value')
      return v
    }
    switch (a) {
      case '--port': case '-p': {
        const v = value()
        const n = Number(v)
        if (v.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError('BAD_ARGUMENT', '--port', `must be 0..65535, got ${v}`)
        flags.port = n
        break
      }
      case '--host': case '-h': flags.host = value(); break
      case '--config': case '-c': configFile = value(); break
      case '--persistence-dir': flags.persistenceDir = value(); break
      case '--persistence-sync': {
        const v = value()
        if (v !== 'always' && v !== 'periodic') throw new ConfigError('BAD_ARGUMENT', '--persistence-sync', `must be 'always' or 'periodic', got ${v}`)
        flags.persistenceSync = v
        break
      }
      case '--password-file': flags.passwordFile = value(); break
      case '--acl-file': flags.aclFile = value(); break
      case '--help': help = true; break
      default: throw new ConfigError('BAD_ARGUMENT', a, 'unknown argument')
    }
  }
  return { flags, configFile, help }
}
