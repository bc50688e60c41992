/**
 * Topic rules shared by the runtime and the editor (no Node.js APIs here).
 *
 * A topic name has no wildcards; a filter may use `+` for one whole level and `#` as the whole
 * last level; `$share/<group>/<filter>` names a shared subscription.
 */

const MAX_TOPIC_BYTES = 65535

/** UTF-8 length, computed only when the string could be too long (a UTF-16 unit is at most 3 bytes). */
function tooLong (s: string): boolean {
  if (s.length * 3 <= MAX_TOPIC_BYTES) return false
  return new TextEncoder().encode(s).length > MAX_TOPIC_BYTES
}

/** Is `topic` a valid topic name to publish to? (Runs once per published message: no allocation.) */
export function isValidTopicName (topic: unknown): topic is string {
  if (typeof topic !== 'string' || topic.length === 0) return false
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i)
    if (c === 0x2b || c === 0x23 || c === 0) return false
  }
  return !tooLong(topic)
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
  if (tooLong(filter)) return false
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
  let f = 0
  if (filter.startsWith('$share/')) {
    const slash = filter.indexOf('/', 7)
    if (slash < 0) return false
    f = slash + 1
  }
  const fn = filter.length
  const tn = topic.length
  const first = filter.charCodeAt(f)
  if (topic.charCodeAt(0) === 0x24 && (first === 0x2b || first === 0x23)) return false
  // Walk both strings level by level, without splitting (this runs once per delivered message).
  let t = 0
  for (;;) {
    if (f >= fn) return t >= tn
    const c = filter.charCodeAt(f)
    if (c === 0x23) return true // '#': this level and everything below, including the parent level
    if (c === 0x2b) { // '+': one whole level
      f++
      while (t < tn && topic.charCodeAt(t) !== 0x2f) t++
    } else {
      while (f < fn && filter.charCodeAt(f) !== 0x2f) {
        if (t >= tn || topic.charCodeAt(t) !== filter.charCodeAt(f)) return false
        f++
        t++
      }
      if (t < tn && topic.charCodeAt(t) !== 0x2f) return false
    }
    // both at a level end: '/' or the end of the string
    if (f >= fn) return t >= tn
    // filter has another level
    f++ // past '/'
    if (t >= tn) return filter.charCodeAt(f) === 0x23 && f + 1 === fn // 'a/#' matches 'a'
    t++ // past '/'
  }
}
