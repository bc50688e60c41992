/*
 * Topic names and topic filters (MQTT 3.1.1 section 4.7, MQTT 5.0 section 4.7).
 *
 *   valid filters:   a/b   a/+/c   a/#   #   +   +/+   /a   a//b   $SYS/#   $share/group/a/+
 *   invalid filters: a/#/b   a#   a/b+   #/a   ''   $share/grp   $share//a   $share/g+/a
 *   valid names:     a/b   /a   $SYS/x   (no + or #, not empty, no U+0000)
 */

// No Node.js APIs here: the Node-RED editor bundles these rules too (src/nodes/shared/topics.ts).

const MAX_TOPIC_BYTES = 65535

/** Longer than a UTF-8 string may be [v3.1.1 §1.5.3 / v5 §1.5.4]? Measured only when it could be (a UTF-16 unit is at most 3 bytes). */
function tooLong (s: string): boolean {
  if (s.length * 3 <= MAX_TOPIC_BYTES) return false
  return new TextEncoder().encode(s).length > MAX_TOPIC_BYTES
}

/** A topic name is valid: not empty [v3.1.1 MQTT-4.7.3-1 / v5 MQTT-4.7.3-1], no wildcards [v3.1.1 MQTT-3.3.2-2 / v5 MQTT-3.3.2-2], no U+0000 [v3.1.1 MQTT-4.7.3-2 / v5 MQTT-4.7.3-2]. */
export function validTopicName (topic: string): boolean {
  if (topic.length === 0 || tooLong(topic)) return false
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i)
    if (c === 0x23 /* # */ || c === 0x2b /* + */ || c === 0) return false
  }
  return true
}

/**
 * A topic filter is valid [v3.1.1 MQTT-4.7.1-2..3 / v5 MQTT-4.7.1-1..2]: `#` only alone and last, `+` only as a whole level,
 * not empty [v3.1.1 MQTT-4.7.3-1 / v5 MQTT-4.7.3-1], no U+0000.
 */
export function validTopicFilter (filter: string): boolean {
  if (filter.length === 0 || tooLong(filter)) return false
  const n = filter.length
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i)
    if (c === 0) return false
    if (c === 0x2b) { // '+' must occupy an entire level [v3.1.1 MQTT-4.7.1-3 / v5 MQTT-4.7.1-2]
      if ((i > 0 && filter.charCodeAt(i - 1) !== 0x2f) || (i < n - 1 && filter.charCodeAt(i + 1) !== 0x2f)) return false
    } else if (c === 0x23) { // '#' must be last and alone in its level [v3.1.1 MQTT-4.7.1-2 / v5 MQTT-4.7.1-1]
      if (i !== n - 1 || (i > 0 && filter.charCodeAt(i - 1) !== 0x2f)) return false
    }
  }
  return true
}

/** At most `max` levels (a topic with n slashes has n + 1 levels; a `$share/group/` prefix is not counted). */
export function levelsWithin (topic: string, max: number): boolean {
  let from = 0
  if (topic.startsWith('$share/')) {
    const slash = topic.indexOf('/', 7)
    from = slash < 0 ? topic.length : slash + 1
  }
  let levels = 1
  for (let i = from; i < topic.length; i++) {
    if (topic.charCodeAt(i) === 0x2f && ++levels > max) return false
  }
  return true
}

export interface SharedFilter {
  group: string
  filter: string
}

/**
 * Split `$share/{ShareName}/{filter}` [v5 MQTT-4.8.2-1, v5 MQTT-4.8.2-2]. Returns null when the filter is
 * not a shared subscription, and `false` when it is a malformed one.
 */
export function parseShared (filter: string): SharedFilter | null | false {
  if (!filter.startsWith('$share/')) return null
  const rest = filter.slice(7)
  const slash = rest.indexOf('/')
  if (slash <= 0) return false // ShareName must be at least one character and be followed by '/' [v5 MQTT-4.8.2-1]
  const group = rest.slice(0, slash)
  if (group.includes('+') || group.includes('#')) return false // [v5 MQTT-4.8.2-2]
  const f = rest.slice(slash + 1)
  if (!validTopicFilter(f)) return false
  return { group, filter: f }
}

/**
 * Does `filter` match `topic`? A `$share/group/` prefix is ignored; wildcards at the first level do
 * not match `$` topics [v3.1.1 MQTT-4.7.2-1 / v5 MQTT-4.7.2-1]. Routing uses the trie; this serves retained-message admin
 * and the Node-RED nodes' dispatch, once per delivered message, so it walks both strings without
 * splitting them.
 */
export function matchTopic (filter: string, topic: string): boolean {
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
    if (f >= fn) return t >= tn // both at the end of their last level
    f++ // past '/'
    if (t >= tn) return filter.charCodeAt(f) === 0x23 && f + 1 === fn // 'a/#' matches 'a'
    t++ // past '/'
  }
}
