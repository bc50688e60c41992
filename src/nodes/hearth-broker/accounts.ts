/**
 * The node's accounts. Their password hashes live in the node's credentials (`userHashes`, a
 * password-type credential, so Node-RED never sends it to the editor). The editor sends what the
 * user changed in `newPasswords`: a plain password typed once, or a hash imported from a
 * mosquitto_passwd file. At start the runtime hashes the plain ones ($7$, PBKDF2-SHA512), merges
 * them into `userHashes`, drops every user no longer in the node's list, and stores the result
 * back with RED.nodes.addCredentials (written to disk with the next deploy); the plain text is
 * gone from the credentials from then on. The one account of flows saved before the users table
 * (`username`/`password`) is carried over the same way.
 */
import { hashPassword, parsePasswordHash, type PasswordEntry } from '../../broker'
import type { ConfigProblem } from './config'
import { validUserName, type BrokerNodeCredentials } from './types'

type Source = { kind: 'stored' | 'imported', hash: string } | { kind: 'plain', password: string }

export interface AccountPlan {
  /** Users whose password is known, in the node's order. */
  sources: Array<{ username: string, source: Source }>
  /** The first user that cannot be used (no password, an empty one, a bad imported hash). */
  problem: ConfigProblem | undefined
}

export interface ResolvedAccounts {
  entries: PasswordEntry[]
  /** The credentials to store, when they changed. */
  credentials: Partial<BrokerNodeCredentials> | undefined
}

/** A JSON object credential; anything else reads as empty. */
function jsonObject (text: unknown): Record<string, unknown> {
  if (typeof text !== 'string' || text === '') return {}
  try {
    const v: unknown = JSON.parse(text)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : {}
  } catch {
    return {}
  }
}

function validHash (hash: string): boolean {
  try {
    parsePasswordHash(hash)
    return true
  } catch {
    return false
  }
}

/**
 * Decide where each user's password comes from. `names` is the node's users list; undefined for a
 * flow saved before the users table, whose accounts are the stored hashes and the old account.
 */
export function planAccounts (names: unknown, creds: Partial<BrokerNodeCredentials>): AccountPlan {
  const stored = jsonObject(creds.userHashes)
  const changes = jsonObject(creds.newPasswords)
  const legacy = typeof creds.username === 'string' && creds.username !== '' ? creds.username : undefined
  let list: string[]
  if (Array.isArray(names)) {
    list = names.filter((n): n is string => typeof n === 'string' && validUserName(n))
  } else {
    // Changes sent without a list (not by the editor) are kept rather than lost.
    list = [...new Set([...Object.keys(stored), ...Object.keys(changes)])].filter(validUserName)
    if (legacy !== undefined && !list.includes(legacy)) list.push(legacy)
  }
  const sources: AccountPlan['sources'] = []
  let problem: ConfigProblem | undefined
  const refuse = (key: string, username: string): void => { problem ??= { key, subs: { username } } }
  for (const username of list) {
    const change = changes[username] as { password?: unknown, hash?: unknown } | undefined
    const old = stored[username]
    if (typeof change?.password === 'string') {
      if (change.password === '') refuse('empty-password', username)
      else sources.push({ username, source: { kind: 'plain', password: change.password } })
    } else if (typeof change?.hash === 'string') {
      if (validHash(change.hash)) sources.push({ username, source: { kind: 'imported', hash: change.hash } })
      else refuse('bad-hash', username)
    } else if (typeof old === 'string' && validHash(old)) {
      sources.push({ username, source: { kind: 'stored', hash: old } })
    } else if (username === legacy) {
      if (typeof creds.password === 'string' && creds.password !== '') sources.push({ username, source: { kind: 'plain', password: creds.password } })
      else refuse('empty-password', username)
    } else {
      refuse('no-password', username)
    }
  }
  return { sources, problem }
}

/**
 * Hash the new plain passwords (on the thread pool) and build the account entries and the
 * credentials to store: only `userHashes`, holding every planned user.
 */
export async function resolveAccounts (plan: AccountPlan, creds: Partial<BrokerNodeCredentials>): Promise<ResolvedAccounts> {
  const entries: PasswordEntry[] = []
  for (const { username, source } of plan.sources) {
    const hash = source.kind === 'plain' ? await hashPassword(source.password) : source.hash
    entries.push({ username, hash })
  }
  const userHashes = JSON.stringify(Object.fromEntries(entries.map(e => [e.username, e.hash])))
  const next: Partial<BrokerNodeCredentials> = entries.length > 0 ? { userHashes } : {}
  const unchanged = (creds.userHashes ?? '') === (next.userHashes ?? '') &&
    creds.newPasswords === undefined && creds.username === undefined && creds.password === undefined
  return { entries, credentials: unchanged ? undefined : next }
}

/**
 * The credentials to store once hashing is done, given what the store holds now: a deploy may have
 * changed them meanwhile (its new passwords or account must not be lost), or removed them (the node
 * was deleted: undefined, nothing to store). Only the fields this node consumed are dropped.
 */
export function mergeStored (current: Partial<BrokerNodeCredentials> | undefined, consumed: Partial<BrokerNodeCredentials>, next: Partial<BrokerNodeCredentials>): Partial<BrokerNodeCredentials> | undefined {
  if (current === undefined) return undefined
  const out: Partial<BrokerNodeCredentials> = { ...current }
  if (next.userHashes !== undefined) out.userHashes = next.userHashes
  else if (current.userHashes === consumed.userHashes) delete out.userHashes
  if (current.newPasswords === consumed.newPasswords) delete out.newPasswords
  if (current.username === consumed.username && current.password === consumed.password) {
    delete out.username
    delete out.password
  }
  return out
}

/** The users that have a password in these credentials (stored, or the old account's). For the editor. */
export function usersWithPassword (creds: Partial<BrokerNodeCredentials> | undefined): string[] {
  if (creds === undefined) return []
  const names = Object.keys(jsonObject(creds.userHashes))
  if (typeof creds.username === 'string' && creds.username !== '' && typeof creds.password === 'string' && creds.password !== '' && !names.includes(creds.username)) {
    names.push(creds.username)
  }
  return names
}
