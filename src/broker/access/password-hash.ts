/*
 * Mosquitto's password hashes, as mosquitto_passwd writes them into a password file:
 *
 *   $7$<iterations>$<base64 salt>$<base64 hash>   PBKDF2-HMAC-SHA512(password, salt, iterations, 64 bytes)
 *                                                 (mosquitto_passwd 2.x default, "-H sha512-pbkdf2")
 *   $6$<base64 salt>$<base64 hash>                SHA-512(password bytes followed by salt bytes)
 *                                                 (Mosquitto 1.x default, "-H sha512")
 *
 * The salt is 12 bytes and the hash 64 bytes, in standard base64 with padding; Mosquitto 2.0 drops
 * an entry whose salt or hash decodes to any other length, so Hearth refuses those too.
 * Verification of $7$ runs crypto.pbkdf2 on libuv's thread pool, never on the event loop.
 */
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto'
import { AccessFileError } from './errors'

export const SALT_BYTES = 12
export const HASH_BYTES = 64
/**
 * Iterations of the $7$ hashes Hearth writes: 210,000, the count Mosquitto's development branch
 * (2.1) and OWASP's password storage guidance use for PBKDF2-HMAC-SHA512 (mosquitto_passwd 2.0 writes 101).
 * Any Mosquitto 2.x verifies any count.
 */
export const DEFAULT_ITERATIONS = 210_000
/** The largest iteration count accepted in a hash (a typo of a few digits must not stall every CONNECT for minutes). */
const MAX_ITERATIONS = 10_000_000

export type PasswordHash =
  | { type: 'sha512-pbkdf2', iterations: number, salt: Buffer, hash: Buffer }
  | { type: 'sha512', salt: Buffer, hash: Buffer }

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function strictBase64 (s: string, bytes: number, code: 'HASH_BAD_SALT' | 'HASH_BAD_DIGEST'): Buffer {
  if (!BASE64.test(s)) throw new AccessFileError(code)
  const b = Buffer.from(s, 'base64')
  if (b.length !== bytes) throw new AccessFileError(code)
  return b
}

/** Decode a Mosquitto password hash; throws an {@link AccessFileError} (code HASH_*) when it is not one. */
export function parsePasswordHash (text: string): PasswordHash {
  const f = text.split('$')
  // f[0] is the empty text before the leading '$'
  if (f[0] !== '' || (f[1] !== '6' && f[1] !== '7')) throw new AccessFileError('HASH_UNKNOWN_TYPE')
  if (f[1] === '6') {
    if (f.length !== 4) throw new AccessFileError('HASH_MALFORMED')
    return { type: 'sha512', salt: strictBase64(f[2], SALT_BYTES, 'HASH_BAD_SALT'), hash: strictBase64(f[3], HASH_BYTES, 'HASH_BAD_DIGEST') }
  }
  if (f.length !== 5) throw new AccessFileError('HASH_MALFORMED')
  const iterations = /^[0-9]{1,9}$/.test(f[2]) ? Number(f[2]) : NaN
  if (!(iterations >= 1 && iterations <= MAX_ITERATIONS)) throw new AccessFileError('HASH_BAD_ITERATIONS')
  return {
    type: 'sha512-pbkdf2',
    iterations,
    salt: strictBase64(f[3], SALT_BYTES, 'HASH_BAD_SALT'),
    hash: strictBase64(f[4], HASH_BYTES, 'HASH_BAD_DIGEST'),
  }
}

/** The text form of a hash, as it stands in a password file. */
export function formatPasswordHash (h: PasswordHash): string {
  return h.type === 'sha512'
    ? `$6$${h.salt.toString('base64')}$${h.hash.toString('base64')}`
    : `$7$${h.iterations}$${h.salt.toString('base64')}$${h.hash.toString('base64')}`
}

const toBuffer = (p: string | Buffer): Buffer => typeof p === 'string' ? Buffer.from(p, 'utf8') : p

function pbkdf2Async (password: Buffer, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, HASH_BYTES, 'sha512', (err, key) => err !== null ? reject(err) : resolve(key))
  })
}

/** The digest `password` gives under the parameters of `h` (async for $7$: thread pool). */
export function digestFor (h: PasswordHash, password: string | Buffer): Promise<Buffer> {
  const pw = toBuffer(password)
  if (h.type === 'sha512') return Promise.resolve(createHash('sha512').update(pw).update(h.salt).digest())
  return pbkdf2Async(pw, h.salt, h.iterations)
}

/** Does `password` match the hash? Compared in constant time; never blocks the event loop on PBKDF2. */
export async function verifyPassword (password: string | Buffer, hash: string | PasswordHash): Promise<boolean> {
  const h = typeof hash === 'string' ? parsePasswordHash(hash) : hash
  const d = await digestFor(h, password)
  return timingSafeEqual(d, h.hash)
}

export interface HashOptions {
  /** PBKDF2 iterations. Default {@link DEFAULT_ITERATIONS}. */
  iterations?: number
  /** 12 bytes of salt. Default: 12 random bytes. */
  salt?: Buffer
}

/**
 * Hash a password the way `mosquitto_passwd` 2.x does ($7$, PBKDF2-HMAC-SHA512, 12-byte salt),
 * so the line `user:<result>` works in a Mosquitto password file and in Hearth.
 */
export async function hashPassword (password: string | Buffer, options: HashOptions = {}): Promise<string> {
  const iterations = options.iterations ?? DEFAULT_ITERATIONS
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) throw new AccessFileError('HASH_BAD_ITERATIONS')
  const salt = options.salt ?? randomBytes(SALT_BYTES)
  if (salt.length !== SALT_BYTES) throw new AccessFileError('HASH_BAD_SALT')
  const hash = await pbkdf2Async(toBuffer(password), salt, iterations)
  return formatPasswordHash({ type: 'sha512-pbkdf2', iterations, salt, hash })
}
