/*
 * Mosquitto's password file (mosquitto_passwd(1), mosquitto.conf(5) password_file):
 *
 *   # comment                                   (a line whose first non-blank character is '#')
 *   alice:$7$101$Lm1b...==                      (user, a colon, a $7$ or $6$ hash)
 *   bob:$6$njERlZMi/7DzNB9E$iiavfuXv...==
 *                                               (blank lines are ignored)
 *
 * Blanks around the user name and the hash are trimmed, as Mosquitto does. Where Mosquitto skips a
 * bad line with a log message and starts anyway, Hearth refuses the whole file with an
 * AccessFileError naming the line: a user silently missing is worse than a clear error.
 */
import { AccessFileError, loadAccessFile } from './errors'
import { parsePasswordHash, type PasswordHash } from './password-hash'

export interface PasswordEntry {
  username: string
  /** The hash as written in the file ("$7$..." or "$6$..."). */
  hash: string
  /** 1-based line in the file it came from, when it came from a file. */
  line?: number
}

/** A parsed, checked entry. */
export interface CheckedEntry extends PasswordEntry {
  parsed: PasswordHash
}

/** The longest user name an MQTT client can send (a UTF-8 string of at most 65535 bytes). */
const MAX_NAME_BYTES = 65535

/**
 * Parse the text of a password file. Throws an {@link AccessFileError} with the line number of the
 * first bad line (codes PWFILE_* and HASH_*).
 */
export function parsePasswordFile (text: string): PasswordEntry[] {
  const out: PasswordEntry[] = []
  const seen = new Set<string>()
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1
    const raw = lines[i].trim()
    if (raw === '' || raw.startsWith('#')) continue
    const colon = raw.indexOf(':')
    if (colon < 0) throw new AccessFileError('PWFILE_SYNTAX', line)
    const username = raw.slice(0, colon).trim()
    const hash = raw.slice(colon + 1).trim()
    if (username === '') throw new AccessFileError('PWFILE_EMPTY_USER', line)
    if (Buffer.byteLength(username, 'utf8') > MAX_NAME_BYTES) throw new AccessFileError('PWFILE_SYNTAX', line)
    if (hash === '') throw new AccessFileError('PWFILE_MISSING_HASH', line, { user: username })
    try {
      parsePasswordHash(hash)
    } catch (err) {
      if (err instanceof AccessFileError) throw new AccessFileError(err.code, line, { user: username })
      throw err
    }
    if (seen.has(username)) throw new AccessFileError('PWFILE_DUPLICATE_USER', line, { user: username })
    seen.add(username)
    out.push({ username, hash, line })
  }
  return out
}

/** Check entries that did not come from a file (e.g. hashes a Node-RED node stored). */
export function checkEntries (entries: readonly PasswordEntry[]): CheckedEntry[] {
  const seen = new Set<string>()
  return entries.map(e => {
    if (e.username === '') throw new AccessFileError('USER_EMPTY_NAME', e.line ?? 0)
    if (seen.has(e.username)) throw new AccessFileError('PWFILE_DUPLICATE_USER', e.line ?? 0, { user: e.username })
    seen.add(e.username)
    try {
      return { ...e, parsed: parsePasswordHash(e.hash) }
    } catch (err) {
      if (err instanceof AccessFileError) throw new AccessFileError(err.code, e.line ?? 0, { user: e.username })
      throw err
    }
  })
}

/** The text of a password file holding `entries`, one `user:hash` line each, as mosquitto_passwd writes it. */
export function formatPasswordFile (entries: readonly PasswordEntry[]): string {
  return entries.map(e => `${e.username}:${e.hash}\n`).join('')
}

/** Read and parse a password file; errors carry the file name (FILE_UNREADABLE when it cannot be read). */
export async function loadPasswordFile (path: string): Promise<PasswordEntry[]> {
  return await loadAccessFile(path, parsePasswordFile)
}
