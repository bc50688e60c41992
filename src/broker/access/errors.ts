/**
 * The one error type of the access-control files (password file, ACL file, account tables).
 * The meaning is in `code` (and `line`, `file`, `user`); the message is only a rendering of them.
 */
import { readFile } from 'node:fs/promises'

export type AccessErrorCode =
  // password hashes ($6$ / $7$ as Mosquitto writes them)
  | 'HASH_UNKNOWN_TYPE'      // not "$6$..." or "$7$..."
  | 'HASH_MALFORMED'         // wrong number of "$" fields
  | 'HASH_BAD_ITERATIONS'    // $7$ iteration count not an integer in 1..MAX_ITERATIONS
  | 'HASH_BAD_SALT'          // salt not base64 of 12 bytes
  | 'HASH_BAD_DIGEST'        // hash not base64 of 64 bytes
  // password file lines
  | 'PWFILE_SYNTAX'          // a line that is neither blank, a comment, nor "user:hash"
  | 'PWFILE_EMPTY_USER'      // ":hash"
  | 'PWFILE_MISSING_HASH'    // "user:" (Mosquitto ignores such a line; Hearth refuses the file)
  | 'PWFILE_DUPLICATE_USER'  // the same user twice in one file
  // account tables
  | 'USER_IN_BOTH'           // a user in the password file and in the plain users map
  | 'USER_EMPTY_NAME'        // an account named ""
  // ACL file lines
  | 'ACL_UNKNOWN_DIRECTIVE'  // first word not topic, pattern or user
  | 'ACL_MISSING_TOPIC'      // "topic" or "pattern" with nothing after it
  | 'ACL_BAD_ACCESS'         // "topic <access> <topic>" with access not read|write|readwrite|deny
  | 'ACL_BAD_TOPIC'          // not a valid MQTT topic filter
  | 'ACL_MISSING_USER'       // "user" with no name
  // reading a file
  | 'FILE_UNREADABLE'

/** A problem in an access-control file or table. `line` is 1-based, 0 when not about one line. */
export class AccessFileError extends Error {
  readonly code: AccessErrorCode
  readonly line: number
  /** The file it came from, when it was read from a file. */
  file: string | undefined
  /** The account concerned, when there is one. */
  readonly user: string | undefined

  constructor (code: AccessErrorCode, line = 0, detail: { user?: string, file?: string, cause?: unknown } = {}) {
    super(render(code, line, detail.file, detail.user), detail.cause !== undefined ? { cause: detail.cause } : undefined)
    this.name = 'AccessFileError'
    this.code = code
    this.line = line
    this.file = detail.file
    this.user = detail.user
  }

  /** The same error, naming the file it came from. */
  inFile (file: string): AccessFileError {
    this.file = file
    this.message = render(this.code, this.line, file, this.user)
    return this
  }
}

function render (code: string, line: number, file?: string, user?: string): string {
  const where = [file, line > 0 ? `line ${line}` : undefined].filter(x => x !== undefined).join(':')
  return `${code}${where !== '' ? ` (${where})` : ''}${user !== undefined ? ` user ${JSON.stringify(user)}` : ''}`
}

/** Read a file and parse it; errors carry the file name (FILE_UNREADABLE when it cannot be read). */
export async function loadAccessFile<T> (path: string, parse: (text: string) => T): Promise<T> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new AccessFileError('FILE_UNREADABLE', 0, { file: path, cause: err })
  }
  try {
    return parse(text)
  } catch (err) {
    throw err instanceof AccessFileError ? err.inFile(path) : err
  }
}
