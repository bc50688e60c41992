/*
 * Mosquitto's ACL file (mosquitto.conf(5), acl_file):
 *
 *   # rules before the first "user" line apply to clients without a user name
 *   topic read $SYS/#
 *   user roger                       rules below apply to the client whose user name is "roger"
 *   topic foo/bar                    access left out: readwrite (then the topic may contain spaces
 *   topic deny foo/bar/secret          only after an access word)
 *   pattern write sensor/%u/data     every client, %u / %c replaced by its user name / client id
 *
 * Access is read, write, readwrite or deny. Words are separated by spaces or tabs; the topic is the
 * rest of the line, trimmed. Keywords are case-sensitive. A "user" line may appear more than once
 * for the same user (its rules add up). Like Mosquitto, "topic read" alone names the topic "read"
 * with readwrite access (reported as a warning).
 */
import { validTopicFilter } from '../topics'
import { AccessFileError, loadAccessFile } from './errors'

export type AclAccess = 'read' | 'write' | 'readwrite' | 'deny'

export interface AclRule {
  type: 'topic' | 'pattern'
  access: AclAccess
  /** The topic filter as written (for patterns, with %u / %c). */
  topic: string
  /** For topic rules: the user name of the block it is in; undefined for the anonymous block. */
  user?: string
  /** 1-based line number. */
  line: number
}

export interface AclWarning {
  /** ACL_PATTERN_NO_SUBSTITUTION: a pattern without %u or %c (it applies to every client alike).
   *  ACL_TOPIC_IS_ACCESS_WORD: "topic read" alone, which names the topic "read". */
  code: 'ACL_PATTERN_NO_SUBSTITUTION' | 'ACL_TOPIC_IS_ACCESS_WORD'
  line: number
}

export interface AclFile {
  rules: AclRule[]
  warnings: AclWarning[]
}

const ACCESS = new Set<string>(['read', 'write', 'readwrite', 'deny'])
/** First word, then the rest after the blanks that follow it. */
const WORD = /^(\S+)(?:[ \t]+(.*))?$/

/** Parse the text of an ACL file; throws an {@link AccessFileError} (codes ACL_*) with the line number. */
export function parseAclFile (text: string): AclFile {
  const rules: AclRule[] = []
  const warnings: AclWarning[] = []
  let user: string | undefined
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1
    const s = lines[i].trim()
    if (s === '' || s.startsWith('#')) continue
    const m = WORD.exec(s) as RegExpExecArray // s is trimmed and not empty
    const rest = (m[2] ?? '').trim()
    switch (m[1]) {
      case 'user':
        if (rest === '') throw new AccessFileError('ACL_MISSING_USER', line)
        user = rest
        break
      case 'topic':
      case 'pattern': {
        if (rest === '') throw new AccessFileError('ACL_MISSING_TOPIC', line)
        const r = WORD.exec(rest) as RegExpExecArray
        let access: AclAccess = 'readwrite'
        let topic = r[1]
        if (r[2] !== undefined && r[2].trim() !== '') {
          if (!ACCESS.has(r[1])) throw new AccessFileError('ACL_BAD_ACCESS', line)
          access = r[1] as AclAccess
          topic = r[2].trim()
        } else if (ACCESS.has(topic)) {
          warnings.push({ code: 'ACL_TOPIC_IS_ACCESS_WORD', line })
        }
        if (!validTopicFilter(topic)) throw new AccessFileError('ACL_BAD_TOPIC', line)
        if (m[1] === 'topic') {
          rules.push(user === undefined ? { type: 'topic', access, topic, line } : { type: 'topic', access, topic, user, line })
        } else {
          if (!topic.includes('%u') && !topic.includes('%c')) warnings.push({ code: 'ACL_PATTERN_NO_SUBSTITUTION', line })
          rules.push({ type: 'pattern', access, topic, line })
        }
        break
      }
      default:
        throw new AccessFileError('ACL_UNKNOWN_DIRECTIVE', line)
    }
  }
  return { rules, warnings }
}

/** Read and parse an ACL file; errors carry the file name (FILE_UNREADABLE when it cannot be read). */
export async function loadAclFile (path: string): Promise<AclFile> {
  return await loadAccessFile(path, parseAclFile)
}
