/** Checks for the CLI's JSON config: each failure is a ConfigError naming the key at fault. */

export type ConfigErrorCode =
  | 'BAD_ARGUMENT'  // a command-line argument that is unknown or lacks its value
  | 'UNREADABLE'    // a file (config, certificate, key, CA) that cannot be read or parsed
  | 'UNKNOWN_KEY'   // a key the config does not know (a typo, most likely)
  | 'BAD_TYPE'      // a value of the wrong JSON type
  | 'BAD_VALUE'     // a value of the right type outside what is allowed
  | 'MISSING'       // a required key is absent
  | 'NOT_ALLOWED'   // a key that does not apply here (a certificate on a plain listener)
  | 'CONFLICT'      // settings that cannot work together (nobody could ever connect)
  | 'TLS_INVALID'   // a certificate, key, passphrase or CA that TLS cannot use

export class ConfigError extends Error {
  /** `key` names the setting: 'maxConnections', 'listeners[1].cert', 'users.alice', '--port'. */
  constructor (readonly code: ConfigErrorCode, readonly key: string, message: string) {
    super(`${key}: ${message}`)
    this.name = 'ConfigError'
  }
}

export type Obj = Record<string, unknown>

export function isObject (v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** 'listeners[0]' + 'port' -> 'listeners[0].port'; '' + 'port' -> 'port'. */
export function keyName (prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`
}

/** Refuse a key that is not in `allowed`. */
export function checkKeys (obj: Obj, allowed: readonly string[], prefix: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) throw new ConfigError('UNKNOWN_KEY', keyName(prefix, k), 'unknown key')
  }
}

export function optInt (obj: Obj, key: string, prefix: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError('BAD_TYPE', keyName(prefix, key), 'must be an integer')
  if (v < min || v > max) throw new ConfigError('BAD_VALUE', keyName(prefix, key), `must be from ${min} to ${max}, got ${v}`)
  return v
}

export function optBool (obj: Obj, key: string, prefix: string): boolean | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  if (typeof v !== 'boolean') throw new ConfigError('BAD_TYPE', keyName(prefix, key), 'must be true or false')
  return v
}

export function optString (obj: Obj, key: string, prefix: string): string | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw new ConfigError('BAD_TYPE', keyName(prefix, key), 'must be a string')
  if (v === '') throw new ConfigError('BAD_VALUE', keyName(prefix, key), 'must not be empty')
  return v
}

export function optOneOf<T extends string> (obj: Obj, key: string, prefix: string, values: readonly T[]): T | undefined {
  const v = optString(obj, key, prefix)
  if (v === undefined) return undefined
  if (!(values as readonly string[]).includes(v)) throw new ConfigError('BAD_VALUE', keyName(prefix, key), `must be one of ${values.map(x => `"${x}"`).join(', ')}, got "${v}"`)
  return v as T
}

export function optObject (obj: Obj, key: string, prefix: string): Obj | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  if (!isObject(v)) throw new ConfigError('BAD_TYPE', keyName(prefix, key), 'must be an object')
  return v
}

export function optArray (obj: Obj, key: string, prefix: string): unknown[] | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  if (!Array.isArray(v)) throw new ConfigError('BAD_TYPE', keyName(prefix, key), 'must be an array')
  return v
}

/** Whether binding `host` reaches this machine only. Undefined (every interface) is not. */
export function isLoopback (host: string | undefined): boolean {
  if (host === undefined) return false
  const h = host.toLowerCase()
  if (h === 'localhost' || h === '::1' || h === '[::1]') return true
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)
}
