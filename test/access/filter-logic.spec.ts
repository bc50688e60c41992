/**
 * The filter algebra behind the ACL's subscribe check, checked against brute force: every filter
 * over a small level alphabet, every topic over that alphabet plus a level no filter names.
 */
import assert from 'node:assert/strict'
import { intersect, matchLevels, someTopicOutside, splitLevels } from '../../src/broker/access/filter-logic'
import { matchTopic } from '../../src/broker/topics'

const FILTER_LEVELS = ['a', 'b', '$s', '', '+']
const TOPIC_LEVELS = ['a', 'b', '$s', '', 'z'] // 'z': a level no filter names

function filters (maxLen: number): string[][] {
  const out: string[][] = []
  const grow = (prefix: string[]): void => {
    if (prefix.length > 0) out.push(prefix)
    if (prefix.length >= 1 && prefix.length < maxLen + 1) out.push([...prefix, '#'])
    if (prefix.length === 0) out.push(['#'])
    if (prefix.length === maxLen) return
    for (const l of FILTER_LEVELS) grow([...prefix, l])
  }
  grow([])
  return out
}

function topics (maxLen: number): string[][] {
  const out: string[][] = []
  const grow = (prefix: string[]): void => {
    if (prefix.length > 0) out.push(prefix)
    if (prefix.length === maxLen) return
    for (const l of TOPIC_LEVELS) grow([...prefix, l])
  }
  grow([])
  return out
}

const ALL_FILTERS = filters(3) // up to 3 levels, optionally followed by "#": "a", "a/#", "+/b/$s", "#", ...
const ALL_TOPICS = topics(4)
const show = (l: readonly string[] | null): string => l === null ? 'null' : JSON.stringify(l.join('/'))

/** A small deterministic PRNG, so a failure can be replayed. */
function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32 }
}

describe('access: filter logic', function () {
  it('matchLevels agrees with the core matchTopic on every filter and topic of the alphabet [MQTT-4.7.1-2] [MQTT-4.7.2-1]', function () {
    let n = 0
    for (const f of ALL_FILTERS) {
      for (const t of ALL_TOPICS) {
        assert.equal(matchLevels(f, t), matchTopic(f.join('/'), t.join('/')), `${show(f)} vs ${show(t)}`)
        n++
      }
    }
    assert.ok(n > 20000, `${n} pairs`)
  })

  it('table: matching, including the parent level of "#" and $ topics', function () {
    const cases: Array<[string, string, boolean]> = [
      ['a/#', 'a', true], ['a/#', 'a/b/c', true], ['#', '$SYS/x', false], ['+/x', '$SYS/x', false],
      ['$SYS/#', '$SYS/x', true], ['a/+', 'a', false], ['a/+', 'a/', true], ['+', '', true],
      ['a//b', 'a//b', true], ['a/+/b', 'a//b', true], ['a', 'a/b', false], ['a/b', 'a', false],
    ]
    for (const [f, t, want] of cases) assert.equal(matchLevels(splitLevels(f), splitLevels(t)), want, `${f} vs ${t}`)
  })

  it('table: intersections', function () {
    const cases: Array<[string, string, string | null]> = [
      ['a/#', '+/b', 'a/b'], ['#', '$SYS/#', null], ['a/+/c', 'a/b/#', 'a/b/c'], ['a/#', 'a', 'a'],
      ['#', '#', '#'], ['+', '#', '+'], ['#', 'a/+/#', 'a/+/#'], ['a/b/#', 'a', null], ['+/+', 'a/+/c', null],
      ['home/#', 'home/+/temp', 'home/+/temp'], ['$SYS/+', '+/+', null], ['$SYS/#', '$SYS/broker/#', '$SYS/broker/#'],
    ]
    for (const [a, b, want] of cases) {
      const got = intersect(splitLevels(a), splitLevels(b))
      assert.equal(got === null ? null : got.join('/'), want, `${a} ∩ ${b}`)
      const rev = intersect(splitLevels(b), splitLevels(a))
      assert.equal(rev === null ? null : rev.join('/'), want, `${b} ∩ ${a}`)
    }
  })

  it('intersect(a, b) matches exactly the topics both a and b match, for every pair of filters of the alphabet', function () {
    this.timeout(120000)
    for (const a of ALL_FILTERS) {
      for (const b of ALL_FILTERS) {
        const i = intersect(a, b)
        for (const t of ALL_TOPICS) {
          const both = matchLevels(a, t) && matchLevels(b, t)
          const got = i !== null && matchLevels(i, t)
          if (got !== both) assert.fail(`${show(a)} ∩ ${show(b)} = ${show(i)}: topic ${show(t)} both=${both}`)
        }
      }
    }
  })

  it('table: some topic outside the denies', function () {
    const cases: Array<[string, string[], boolean]> = [
      ['home/+/temp', ['home/lock/#'], true],
      ['home/lock/+', ['home/lock/#'], false],
      ['home/lock/#', ['home/lock/#'], false],
      ['home/lock/#', ['home/lock/+'], true], // home/lock itself, and home/lock/x/y
      ['home/lock/#', ['home/lock/+', 'home/lock', 'home/lock/+/#'], false],
      ['#', ['#'], false],
      ['#', ['+/#'], false],
      ['#', ['+'], true],
      ['+', ['a', 'b'], true],
      ['$SYS/#', ['#'], true], // '#' does not cover $ topics
      ['a', [], true],
      ['a/+', ['a/b', 'a/+/c'], true],
      ['a/+', ['a/+'], false],
    ]
    for (const [f, d, want] of cases) assert.equal(someTopicOutside(splitLevels(f), d.map(splitLevels)), want, `${f} minus ${d.join(', ')}`)
  })

  it('someTopicOutside agrees with brute force on 4000 random filters and deny sets', function () {
    this.timeout(120000)
    const r = rng(9)
    const pick = (): string[] => ALL_FILTERS[Math.floor(r() * ALL_FILTERS.length)]
    /** A filter close to f (levels widened to '+', cut short by '#', or changed), so denies often overlap f. */
    const near = (f: string[]): string[] => {
      const out: string[] = []
      for (const l of f) {
        const x = r()
        if (l === '#' || x < 0.15) return [...out, '#']
        out.push(x < 0.45 ? '+' : x < 0.55 ? FILTER_LEVELS[Math.floor(r() * 4)] : l)
      }
      return out
    }
    let yes = 0
    for (let k = 0; k < 4000; k++) {
      const f = pick()
      const denies = Array.from({ length: Math.floor(r() * 5) }, () => r() < 0.7 ? near(f) : pick())
      const brute = ALL_TOPICS.some(t => matchLevels(f, t) && !denies.some(d => matchLevels(d, t)))
      const got = someTopicOutside(f, denies)
      if (got !== brute) assert.fail(`case ${k}: ${show(f)} minus [${denies.map(show).join(', ')}]: got ${got}, brute force ${brute}`)
      if (got) yes++
    }
    assert.ok(yes > 400 && yes < 3600, `both answers are exercised (${yes} true)`)
  })

  it('gives up after its budget with true, and never throws on odd input', function () {
    const f = splitLevels('+/+/+/+/+/+/+/+/+/+')
    const denies = Array.from({ length: 40 }, (_, i) => splitLevels(`${i}/${i}/${i}/${i}/${i}/${i}/${i}/${i}/${i}/${i}`))
    assert.equal(someTopicOutside(f, denies, 5), true)
    for (const s of ['#/a', 'a#', '', '/', '+#', 'a/#/#']) {
      intersect(splitLevels(s), splitLevels('a/#'))
      someTopicOutside(splitLevels(s), [splitLevels(s)])
      matchLevels(splitLevels(s), splitLevels('a'))
    }
  })
})
