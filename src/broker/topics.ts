/*
 * Topic names and topic filters (MQTT 3.1.1 section 4.7, MQTT 5.0 section 4.7).
 *
 *   valid filters:   a/b   a/+/c   a/#   #   +   +/+   /a   a//b   $SYS/#   $share/group/a/+
 *   invalid filters: a/#/b   a#   a/b+   #/a   ''   $share/grp   $share//a   $share/g+/a
 *   valid names:     a/b   /a   $SYS/x   (no + or #, not empty, no U+0000)
 */
import { isUtf8 } from 'node:buffer'

const MAX_TOPIC_BYTES = 65535

/** Does the string hold a code point that MQTT forbids in UTF-8 strings? [MQTT-1.5.3-2] */
export function hasNullChar (s: string): boolean {
  return s.indexOf('\u0000') !== -1
}

/** A topic name is valid: not empty [MQTT-4.7.3-1], no wildcards [MQTT-3.3.2-2], no U+0000 [MQTT-4.7.3-2]. */
export function validTopicName (topic: string): boolean {
  if (topic.length === 0 || topic.length > MAX_TOPIC_BYTES) return false
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i)
    if (c === 0x23 /* # */ || c === 0x2b /* + */ || c === 0) return false
  }
  return true
}

/**
 * A topic filter is valid [MQTT-4.7.1-1..3]: `#` only alone and last, `+` only as a whole level,
 * not empty [MQTT-4.7.3-1], no U+0000.
 */
export function validTopicFilter (filter: string): boolean {
  if (filter.length === 0 || filter.length > MAX_TOPIC_BYTES) return false
  const n = filter.length
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i)
    if (c === 0) return false
    if (c === 0x2b) { // '+' must occupy an entire level [MQTT-4.7.1-3]
      if ((i > 0 && filter.charCodeAt(i - 1) !== 0x2f) || (i < n - 1 && filter.charCodeAt(i + 1) !== 0x2f)) return false
    } else if (c === 0x23) { // '#' must be last and alone in its level [MQTT-4.7.1-2]
      if (i !== n - 1 || (i > 0 && filter.charCodeAt(i - 1) !== 0x2f)) return false
    }
  }
  return true
}

export interface SharedFilter {
  group: string
  filter: string
}

/**
 * Split `$share/{ShareName}/{filter}` [MQTT-4.8.2-1, MQTT-4.8.2-2]. Returns null when the filter is
 * not a shared subscription, and `false` when it is a malformed one.
 */
export function parseShared (filter: string): SharedFilter | null | false {
  if (!filter.startsWith('$share/')) return null
  const rest = filter.slice(7)
  const slash = rest.indexOf('/')
  if (slash <= 0) return false // ShareName must be at least one character and be followed by '/' [MQTT-4.8.2-1]
  const group = rest.slice(0, slash)
  if (group.includes('+') || group.includes('#')) return false // [MQTT-4.8.2-2]
  const f = rest.slice(slash + 1)
  if (!validTopicFilter(f)) return false
  return { group, filter: f }
}

/** Does `filter` match `topic`? Used for retained deletion and node-side dispatch; routing uses the trie. */
export function matchTopic (filter: string, topic: string): boolean {
  if (topic.charCodeAt(0) === 0x24 /* $ */ && (filter.charCodeAt(0) === 0x2b || filter.charCodeAt(0) === 0x23)) return false // [MQTT-4.7.2-1]
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}

/** Is the buffer valid UTF-8 (for Payload Format Indicator 1) [MQTT-3.3.2-4]? */
export function isValidUtf8 (buf: Buffer): boolean {
  return isUtf8(buf)
}
