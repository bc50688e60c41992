/*
 * The account rule of UserTableAuthenticator (src/broker/auth.ts), over hashed accounts from a
 * Mosquitto password file merged with plain accounts from a `users` map:
 *   - no account at all: credentials are not checked, the anonymous setting decides;
 *   - accounts: a client without a user name is anonymous (allowAnonymous, trustLocal decide);
 *     a client with a user name must name an account and carry its password (refused with 0x86
 *     otherwise, whatever the anonymous setting), as Mosquitto does.
 * An unknown user costs the same work as a hashed account, so timing does not tell which names
 * exist. PBKDF2 runs on the thread pool through a bounded limiter; successful verifications are
 * cached (bounded) so reconnecting devices are cheap. `reload()` swaps the table in one step.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { availableParallelism } from 'node:os'
import type { AuthenticateRequest, AuthenticateResult, Authenticator, UserTableOptions } from '../auth'
import { AccessFileError } from './errors'
import { Limiter } from './limiter'
import { checkEntries, type PasswordEntry } from './password-file'
import { HASH_BYTES, SALT_BYTES, digestFor, type PasswordHash } from './password-hash'
import { VerifyCache } from './verify-cache'

/** Where accounts come from. A user may be in one source only. */
export interface Accounts {
  /** Hashed accounts: the entries of a Mosquitto password file, or any `user` + `$7$`/`$6$` hash. */
  passwordFile?: readonly PasswordEntry[]
  /** Plain accounts: user name to password. */
  users?: Readonly<Record<string, string>>
}

export interface PasswordAuthenticatorOptions extends UserTableOptions {
  /** Successful verifications remembered (least recently used dropped first). Default 1024; 0 turns the cache off. */
  cacheSize?: number
  /**
   * Password hashes computed at the same time on the thread pool. Default: one less than the CPU
   * count, at least 1 and at most 2, so that a storm of CONNECTs leaves a core to the event loop.
   */
  concurrency?: number
  /** Hash computations that may wait for a slot; beyond that a CONNECT is refused with 0x89 (Server busy). Default 1000. */
  maxQueued?: number
}

type Account =
  | { kind: 'plain', digest: Buffer }
  | { kind: 'hashed', hash: string, parsed: PasswordHash }

interface Table {
  readonly accounts: Map<string, Account>
  /** What an unknown user is compared against: the same kind of work as a real account. */
  readonly decoy: Account
}

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest()
const EMPTY = Buffer.alloc(0)
const REFUSED: AuthenticateResult = { ok: false, reasonCode: 0x86 }
const ACCEPTED: AuthenticateResult = { ok: true }
const DEFAULT_CONCURRENCY = Math.min(2, Math.max(1, availableParallelism() - 1))

/** Build and check an account table; throws {@link AccessFileError} (USER_IN_BOTH, USER_EMPTY_NAME, PWFILE_*, HASH_*). */
function buildTable (a: Accounts): Table {
  const accounts = new Map<string, Account>()
  const iterationCounts = new Map<number, number>()
  let hasSha512 = false
  for (const e of checkEntries(a.passwordFile ?? [])) {
    accounts.set(e.username, { kind: 'hashed', hash: e.hash, parsed: e.parsed })
    if (e.parsed.type === 'sha512-pbkdf2') iterationCounts.set(e.parsed.iterations, (iterationCounts.get(e.parsed.iterations) ?? 0) + 1)
    else hasSha512 = true
  }
  for (const [username, password] of Object.entries(a.users ?? {})) {
    if (username === '') throw new AccessFileError('USER_EMPTY_NAME', 0)
    if (accounts.has(username)) throw new AccessFileError('USER_IN_BOTH', 0, { user: username })
    accounts.set(username, { kind: 'plain', digest: sha256(Buffer.from(password, 'utf8')) })
  }
  const salt = randomBytes(SALT_BYTES)
  const hash = randomBytes(HASH_BYTES)
  let decoy: Account = { kind: 'plain', digest: sha256(Buffer.from('hearth: no such user')) }
  if (iterationCounts.size > 0) {
    const iterations = [...iterationCounts].sort((x, y) => y[1] - x[1])[0][0] // the most common count
    decoy = { kind: 'hashed', hash: '', parsed: { type: 'sha512-pbkdf2', iterations, salt, hash } }
  } else if (hasSha512) {
    decoy = { kind: 'hashed', hash: '', parsed: { type: 'sha512', salt, hash } }
  }
  return { accounts, decoy }
}

/** Authenticates against hashed and plain accounts, with Mosquitto's password-file semantics. */
export class PasswordAuthenticator implements Authenticator {
  private table: Table
  private readonly allowAnonymous: boolean
  private readonly trustLocal: boolean
  private readonly cache: VerifyCache
  private readonly limiter: Limiter
  /** Verifications under way, shared by concurrent CONNECTs with the same credentials. */
  private readonly inflight = new Map<string, Promise<AuthenticateResult>>()
  /** Counters: hashes computed, answers from the cache, CONNECTs refused because too many hashes were waiting. */
  readonly stats = { hashesComputed: 0, cacheHits: 0, busyRefusals: 0 }

  constructor (accounts: Accounts = {}, options: PasswordAuthenticatorOptions | boolean = {}) {
    const o = typeof options === 'boolean' ? { allowAnonymous: options } : options
    this.allowAnonymous = o.allowAnonymous ?? false
    this.trustLocal = o.trustLocal ?? false
    this.cache = new VerifyCache(o.cacheSize ?? 1024)
    this.limiter = new Limiter(Math.max(1, o.concurrency ?? DEFAULT_CONCURRENCY), Math.max(0, o.maxQueued ?? 1000))
    this.table = buildTable(accounts)
  }

  /** Whether any account is configured. */
  get hasAccounts (): boolean { return this.table.accounts.size > 0 }

  /** Successful verifications currently cached. */
  get cacheSize (): number { return this.cache.size }

  /**
   * Replace every account at once (e.g. on SIGHUP after re-reading the password file). The new
   * table is checked first; on error this throws and the old table stays. Connected clients are
   * not touched; CONNECTs being verified finish against the table they started with. Cached
   * verifications of users whose hash changed or who are gone are dropped.
   */
  reload (accounts: Accounts): void {
    const next = buildTable(accounts)
    this.table = next
    this.cache.retain(u => {
      const a = next.accounts.get(u)
      return a?.kind === 'hashed' ? a.hash : undefined
    })
  }

  authenticate (req: AuthenticateRequest): AuthenticateResult | Promise<AuthenticateResult> {
    const t = this.table
    if (req.username === undefined || t.accounts.size === 0) {
      const ok = this.allowAnonymous || (this.trustLocal && req.kind === 'local')
      return ok ? ACCEPTED : { ok: false, reasonCode: 0x87 }
    }
    const account = t.accounts.get(req.username)
    const given = req.password ?? EMPTY
    if (account === undefined) return this.refuseAfter(t.decoy, given)
    if (account.kind === 'plain') {
      // as UserTableAuthenticator: an absent password is the empty one
      return timingSafeEqual(account.digest, sha256(given)) ? ACCEPTED : REFUSED
    }
    // Mosquitto refuses a hashed account given no (or an empty) password; do the same work anyway.
    if (given.length === 0) return this.refuseAfter(account, given)
    const key = this.cache.key(req.username, given)
    if (this.cache.has(key, account.hash)) { this.stats.cacheHits++; return ACCEPTED }
    const flightKey = `${key}\u0000${account.hash}`
    const running = this.inflight.get(flightKey)
    if (running !== undefined) return running
    const username = req.username
    const p = this.digest(account, given).then(d => {
      if (d === undefined) return { ok: false, reasonCode: 0x89 }
      if (!timingSafeEqual(d, account.parsed.hash)) return REFUSED
      this.cache.add(key, username, account.hash)
      return ACCEPTED
    }).finally(() => this.inflight.delete(flightKey))
    this.inflight.set(flightKey, p)
    return p
  }

  private digest (account: Account & { kind: 'hashed' }, password: Buffer): Promise<Buffer | undefined> {
    return this.limiter.run(() => { this.stats.hashesComputed++; return digestFor(account.parsed, password) }).then(d => {
      if (d === undefined) this.stats.busyRefusals++
      return d
    })
  }

  /** Compute what a real check would, then refuse. */
  private refuseAfter (against: Account, password: Buffer): AuthenticateResult | Promise<AuthenticateResult> {
    if (against.kind === 'plain') {
      timingSafeEqual(against.digest, sha256(password))
      return REFUSED
    }
    return this.digest(against, password).then(d => {
      if (d === undefined) return { ok: false, reasonCode: 0x89 }
      timingSafeEqual(d, against.parsed.hash)
      return REFUSED
    })
  }
}
