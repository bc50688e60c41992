/**
 * The bridges' passwords. They live in the node's credentials as one JSON object, `bridgePasswords`
 * (a password-type credential: Node-RED never sends it to the editor), keyed by each bridge's `id`
 * so a renamed bridge keeps its password. The editor cannot read it, so it sends what the user
 * changed in `newBridgePasswords` (a new password, or null to remove one); at start the runtime
 * folds that into `bridgePasswords`, drops the passwords of bridges no longer in the node, and
 * stores the result back (written to disk with the next deploy).
 */
import type { BridgeNodeConfig, BrokerNodeCredentials } from './types'

type Creds = Partial<BrokerNodeCredentials>

export interface BridgePasswordPlan {
  /** Bridge key to its password. */
  passwords: Map<string, string>
  /** The credentials to store (the whole set), when they changed; undefined otherwise. */
  store: (current: Creds | undefined) => Creds | undefined
}

function jsonObject (t: unknown): Record<string, unknown> {
  if (typeof t !== 'string' || t === '') return {}
  try {
    const v: unknown = JSON.parse(t)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

/** The key a bridge's password is stored under: its id, or its name for a flow written without ids. */
export function bridgeKey (b: Partial<BridgeNodeConfig>): string {
  if (typeof b.id === 'string' && b.id !== '') return b.id
  return typeof b.name === 'string' ? b.name.trim() : ''
}

/** The keys of the bridges that have a password stored (for the editor; never the passwords). */
export function keysWithPassword (creds: Creds | undefined): string[] {
  return Object.entries(jsonObject(creds?.bridgePasswords)).filter(([, v]) => typeof v === 'string' && v !== '').map(([k]) => k)
}

/** Each bridge's password from the credentials (changes applied), and how to store them. */
export function planBridgePasswords (bridges: unknown, creds: Creds): BridgePasswordPlan {
  const keys = Array.isArray(bridges) ? (bridges as Array<Partial<BridgeNodeConfig>>).map(bridgeKey).filter(k => k !== '') : []
  const stored = jsonObject(creds.bridgePasswords)
  const changes = jsonObject(creds.newBridgePasswords)
  const passwords = new Map<string, string>()
  for (const key of keys) {
    const v = Object.prototype.hasOwnProperty.call(changes, key) ? changes[key] : stored[key]
    if (typeof v === 'string' && v !== '') passwords.set(key, v)
  }
  const text = passwords.size > 0 ? JSON.stringify(Object.fromEntries(passwords)) : undefined
  const consumed = creds.newBridgePasswords
  const changed = (creds.bridgePasswords ?? undefined) !== text || consumed !== undefined
  return {
    passwords,
    store: (current) => {
      if (!changed || current === undefined) return undefined
      const out: Creds = { ...current }
      if (text !== undefined) out.bridgePasswords = text
      else delete out.bridgePasswords
      // A deploy that sent other changes meanwhile keeps them for the next start.
      if (current.newBridgePasswords === consumed) delete out.newBridgePasswords
      return out
    },
  }
}
