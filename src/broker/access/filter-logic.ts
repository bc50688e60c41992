/*
 * Topic filters as sets of topics, on split levels:
 *   - matchLevels(rule, topic): does a filter match a topic (MQTT 4.7, both 3.1.1 and 5.0)?
 *   - intersect(a, b): the filter matching exactly the topics both filters match, or null;
 *   - someTopicOutside(f, denies): is some topic matched by f matched by none of the denies?
 * Used by the ACL to decide whether a subscription could ever deliver a readable topic.
 *
 *   intersect(a/#, +/b)       -> a/b          intersect(#, $SYS/#) -> null   (wildcards skip $ topics)
 *   intersect(a/+/c, a/b/#)   -> a/b/c        intersect(a/#, a)    -> a      ('#' matches the parent)
 *   someTopicOutside(home/+/temp, [home/lock/#]) -> true   (home/kitchen/temp)
 *   someTopicOutside(home/lock/+, [home/lock/#]) -> false
 *
 * A '#' that is not the last level is not a wildcard here (such a filter is invalid anyway); the
 * functions answer for any input and never throw.
 */

export type Levels = readonly string[]

/** Split a topic or filter into levels ("a//b" has an empty middle level). */
export const splitLevels = (s: string): string[] => s.split('/')

const isDollar = (level: string): boolean => level.charCodeAt(0) === 0x24
const hashAt = (f: Levels, i: number): boolean => i === f.length - 1 && f[i] === '#'

/**
 * Does `rule` match `topic`? '+' is one level, a final '#' this level and all below including the
 * parent ("a/#" matches "a") [v3.1.1 §4.7.1.2 / v5 §4.7.1.2]; a wildcard as first level does not match a topic
 * starting with '$' [v3.1.1 MQTT-4.7.2-1 / v5 MQTT-4.7.2-1].
 */
export function matchLevels (rule: Levels, topic: Levels): boolean {
  const n = rule.length
  for (let i = 0; i < n; i++) {
    const r = rule[i]
    if (r === '#' && i === n - 1) {
      if (i === 0 && isDollar(topic[0])) return false
      return topic.length >= i
    }
    if (i >= topic.length) return false
    if (r === '+') {
      if (i === 0 && isDollar(topic[0])) return false
      continue
    }
    if (r !== topic[i]) return false
  }
  return topic.length === n
}

/** The filter that matches exactly the topics matched by both `a` and `b`, or null when none is. */
export function intersect (a: Levels, b: Levels): string[] | null {
  const out: string[] = []
  for (let i = 0; ; i++) {
    const aHash = hashAt(a, i)
    const bHash = hashAt(b, i)
    if (aHash || bHash) {
      const other = aHash ? b : a
      if (aHash && bHash) return [...out, '#']
      // '#' at level 0 matches every topic not starting with '$'
      if (i === 0 && other.length > 0 && isDollar(other[0])) return null
      // at a deeper level it also matches the parent, so a shorter other filter still meets it
      return [...out, ...other.slice(i)]
    }
    const aEnd = i >= a.length
    const bEnd = i >= b.length
    if (aEnd && bEnd) return out
    if (aEnd || bEnd) return null
    const x = a[i]
    const y = b[i]
    if (x === '+' && y === '+') out.push('+')
    else if (x === '+' || y === '+') {
      const lit = x === '+' ? y : x
      if (i === 0 && isDollar(lit)) return null
      out.push(lit)
    } else if (x === y) out.push(x)
    else return null
  }
}

/** Work allowed to someTopicOutside before it gives up and answers true. */
const OUTSIDE_BUDGET = 10_000

/**
 * Is some topic matched by filter `f` matched by none of `denies`? Exact: it walks the levels,
 * trying for each wildcard level of `f` every literal the live deny filters name there plus one
 * literal none of them names. After `budget` steps it answers true (the caller then grants, and
 * the per-message read check still filters what is delivered).
 */
export function someTopicOutside (f: Levels, denies: readonly Levels[], budget = OUTSIDE_BUDGET): boolean {
  const h = f.length > 0 && f[f.length - 1] === '#' ? f.length - 1 : -1
  const covered = new Set<string>()
  let steps = 0

  const search = (d: number, alive: number[]): boolean => {
    if (alive.length === 0) return true // no deny can match any completion of this prefix
    if (++steps > budget) return true
    const key = `${d}|${alive.join(',')}`
    if (covered.has(key)) return false
    const free = h >= 0 && d >= h // inside f's '#': any further levels, or none
    // End the topic here: some alive deny must match a topic of exactly d levels.
    if (d >= 1 && (h < 0 ? d === f.length : d >= h)) {
      const caught = alive.some(j => denies[j].length === d || (denies[j].length === d + 1 && denies[j][d] === '#'))
      if (!caught) return true
    }
    if (h >= 0 || d < f.length) {
      const lev = free ? '+' : f[d]
      let candidates: Array<string | null> // null: a literal that no deny names at this level
      if (lev === '+') {
        const lits = new Set<string>()
        for (const j of alive) {
          const D = denies[j]
          if (D.length > d && D[d] !== '+' && !hashAt(D, d) && !(d === 0 && isDollar(D[d]))) lits.add(D[d])
        }
        candidates = [...lits, null]
      } else candidates = [lev]
      for (const v of candidates) {
        const dollar = d === 0 && v !== null && isDollar(v)
        const next: number[] = []
        let whole = false // a deny with '#' here covers every topic below this prefix
        for (const j of alive) {
          const D = denies[j]
          if (D.length <= d) continue
          const p = D[d]
          if (hashAt(D, d)) {
            if (!dollar) { whole = true; break }
          } else if (p === '+') {
            if (!dollar) next.push(j)
          } else if (v !== null && p === v) next.push(j)
        }
        if (!whole && search(d + 1, next)) return true
      }
    }
    covered.add(key)
    return false
  }
  return search(0, denies.map((_, j) => j))
}
