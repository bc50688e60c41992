/**
 * Topic rules shared by the runtime and the editor (no Node.js APIs here).
 *
 * A topic name has no wildcards; a filter may use `+` for one whole level and `#` as the whole
 * last level; `$share/<group>/<filter>` names a shared subscription.
 */

const MAX_TOPIC_BYTES = 65535

function utf8Length (s: string): number {
  return new TextEncoder().encode(s).length
}

/** Is `topic` a valid topic name to publish to? */
export function isValidTopicName (topic: unknown): topic is string {
  if (typeof topic !== 'string' || topic.length === 0) return false
  if (/[+#\u0000]/.test(topic)) return false
  return utf8Length(topic) <= MAX_TOPIC_BYTES
}

/** Split a `$share/group/filter` into its parts; undefined when it is not a shared filter. */
export function splitShared (filter: string): { group: string, filter: string } | undefined {
  if (!filter.startsWith('$share/')) return undefined
  const rest = filter.slice('$share/'.length)
  const slash = rest.indexOf('/')
  if (slash < 0) return { group: rest, filter: '' }
  return { group: rest.slice(0, slash), filter: rest.slice(slash + 1) }
}

function isValidPlainFilter (filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false
    if (level.includes('+') && level !== '+') return false
  }
  return true
}

/** Is `filter` a valid subscription topic filter (wildcards and `$share` allowed)? */
export function isValidTopicFilter (filter: unknown): filter is string {
  if (typeof filter !== 'string' || filter.length === 0) return false
  if (utf8Length(filter) > MAX_TOPIC_BYTES) return false
  const shared = splitShared(filter)
  if (shared) {
    if (shared.group.length === 0 || /[+#]/.test(shared.group)) return false
    return isValidPlainFilter(shared.filter)
  }
  return isValidPlainFilter(filter)
}

/**
 * Does `topic` match `filter`? For a shared filter the part after `$share/group/` is used.
 * Wildcards at the first level do not match topics that start with `$`.
 */
export function topicMatches (filter: string, topic: string): boolean {
  const shared = splitShared(filter)
  const f = shared ? shared.filter : filter
  if (topic.startsWith('$') && (f.startsWith('+') || f.startsWith('#'))) return false
  const fl = f.split('/')
  const tl = topic.split('/')
  for (let i = 0; i < fl.length; i++) {
    if (fl[i] === '#') return true
    if (i >= tl.length) return false
    if (fl[i] !== '+' && fl[i] !== tl[i]) return false
  }
  return fl.length === tl.length
}
