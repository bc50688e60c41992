/**
 * A bounded cache of successful password verifications, so that a device reconnecting with the
 * same credentials does not cost another PBKDF2 run. Keys are an HMAC (with a per-process random
 * key) of the user name and password, never the password itself; the value is the hash the
 * password was verified against, so an entry stops counting as soon as the account's hash changes.
 * Least recently used entries go first.
 */
import { createHmac, randomBytes } from 'node:crypto'

export class VerifyCache {
  private readonly entries = new Map<string, { username: string, hash: string }>()
  private readonly secret = randomBytes(32)

  constructor (private readonly max: number) {}

  get size (): number { return this.entries.size }

  key (username: string, password: Buffer): string {
    const name = Buffer.from(username, 'utf8')
    const len = Buffer.alloc(4)
    len.writeUInt32BE(name.length)
    return createHmac('sha256', this.secret).update(len).update(name).update(password).digest('base64')
  }

  /** Was this key verified against exactly `hash`? Refreshes the entry when it was. */
  has (key: string, hash: string): boolean {
    const e = this.entries.get(key)
    if (e === undefined) return false
    if (e.hash !== hash) { this.entries.delete(key); return false }
    this.entries.delete(key)
    this.entries.set(key, e)
    return true
  }

  add (key: string, username: string, hash: string): void {
    if (this.max <= 0) return
    this.entries.delete(key)
    this.entries.set(key, { username, hash })
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
    }
  }

  /** Drop every entry whose user no longer has the hash it was verified against. */
  retain (currentHash: (username: string) => string | undefined): void {
    for (const [k, e] of this.entries) if (currentHash(e.username) !== e.hash) this.entries.delete(k)
  }
}
