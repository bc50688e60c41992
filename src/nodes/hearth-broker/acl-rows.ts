/**
 * The ACL table of the broker node, as Mosquitto's ACL file: rows to file text (with the row of
 * each line, for messages), file rules to rows, and what an anonymous client may do. Plain
 * functions: the editor uses them too.
 */
import type { AclRow } from './types'

/** The ACL file for the rows: anonymous `topic` lines first, then one `user` block per user, then the patterns. */
export function aclText (rows: readonly AclRow[]): { text: string, rowOfLine: number[] } {
  const lines: string[] = []
  const rowOfLine: number[] = [] // rowOfLine[line - 1] = 1-based row, 0 for a `user` line
  const push = (line: string, row: number): void => { lines.push(line); rowOfLine.push(row) }
  rows.forEach((r, i) => { if (r.who === 'anonymous') push(`topic ${r.access} ${r.topic.trim()}`, i + 1) })
  const users: string[] = []
  for (const r of rows) if (r.who === 'user' && !users.includes(r.user ?? '')) users.push(r.user ?? '')
  for (const u of users) {
    push(`user ${u}`, 0)
    rows.forEach((r, i) => { if (r.who === 'user' && (r.user ?? '') === u) push(`topic ${r.access} ${r.topic.trim()}`, i + 1) })
  }
  rows.forEach((r, i) => { if (r.who === 'pattern') push(`pattern ${r.access} ${r.topic.trim()}`, i + 1) })
  return { text: lines.join('\n') + (lines.length > 0 ? '\n' : ''), rowOfLine }
}

/** A parsed ACL file rule (the core's AclRule) as a row. */
export function ruleToRow (rule: { type: 'topic' | 'pattern', access: AclRow['access'], topic: string, user?: string }): AclRow {
  if (rule.type === 'pattern') return { who: 'pattern', access: rule.access, topic: rule.topic }
  if (rule.user === undefined) return { who: 'anonymous', access: rule.access, topic: rule.topic }
  return { who: 'user', user: rule.user, access: rule.access, topic: rule.topic }
}

/** What a client without a user name may do, for the editor to show. */
export type AnonymousAccess =
  | { kind: 'refused' }
  | { kind: 'everything' }
  | { kind: 'rules', read: string[], write: string[], deny: string[] }

/**
 * Refused when anonymous clients are not allowed; everything without an ACL; otherwise the topics
 * of the anonymous rows and of the patterns that apply to them (those without %u: Mosquitto skips a
 * %u pattern for a client with no user name), %c shown as written.
 */
export function anonymousAccess (allowAnonymous: boolean, aclEnabled: boolean, rows: readonly AclRow[]): AnonymousAccess {
  if (!allowAnonymous) return { kind: 'refused' }
  if (!aclEnabled) return { kind: 'everything' }
  const read: string[] = []
  const write: string[] = []
  const deny: string[] = []
  for (const r of rows) {
    if (r.who === 'user' || (r.who === 'pattern' && r.topic.includes('%u'))) continue
    const t = r.topic.trim()
    if (t === '') continue
    if (r.access === 'deny') deny.push(t)
    if (r.access === 'read' || r.access === 'readwrite') read.push(t)
    if (r.access === 'write' || r.access === 'readwrite') write.push(t)
  }
  return { kind: 'rules', read, write, deny }
}
