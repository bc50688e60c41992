// Topic rules of the core (src/broker/topics.ts), table-driven in the manner of Mosquitto's
// test/unit/util_topic_test.c: one helper asserts a match, one a non-match, one per validity rule.
import assert from 'node:assert/strict'
import { levelsWithin, matchTopic, parseShared, validTopicFilter, validTopicName } from '../../src/broker/topics'

function match (filter: string, topic: string): void {
  assert.equal(matchTopic(filter, topic), true, `'${filter}' should match '${topic}'`)
}
function noMatch (filter: string, topic: string): void {
  assert.equal(matchTopic(filter, topic), false, `'${filter}' should not match '${topic}'`)
}

describe('unit: topic rules', function () {
  it('[MQTT-4.7.1-2][MQTT-4.7.1-3] matching: literal levels, + and # (the spec\'s own examples and edge cases)', function () {
    const yes: Array<[string, string]> = [
      ['foo/bar', 'foo/bar'], ['foo/+', 'foo/bar'], ['foo/+/baz', 'foo/bar/baz'], ['foo/+/#', 'foo/bar/baz'],
      ['A/B/+/#', 'A/B/B/C'], ['#', 'foo/bar/baz'], ['#', '/foo/bar'], ['/#', '/foo/bar'], ['foo/#', 'foo'],
      ['foo/#', 'foo/'], ['foo/#', 'foo/bar'], ['foo/+', 'foo/'], ['foo//bar', 'foo//bar'], ['foo//+', 'foo//bar'],
      ['foo/+/+/baz', 'foo///baz'], ['foo/bar/+', 'foo/bar/'], ['+/+', '/finance'], ['/+', '/finance'], ['+', 'finance'],
      ['sport/tennis/player1/#', 'sport/tennis/player1'], ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon'],
      ['sport/#', 'sport'], ['+/+', '/'], ['+', ''], ['#', ''], ['/', '/'], ['$SYS/#', '$SYS/broker'], ['$SYS/#', '$SYS'],
      ['$SYS/+', '$SYS/x'], ['$share/g/foo/+', 'foo/bar'], ['$share/g/#', 'a/b'], ['a/+/#', 'a/b'],
    ]
    const no: Array<[string, string]> = [
      ['test/6/#', 'test/3'], ['foo/bar', 'foo'], ['foo/+', 'foo/bar/baz'], ['foo/+/baz', 'foo/bar/bar'],
      ['foo/+/#', 'fo2/bar/baz'], ['/#', 'foo/bar'], ['#', '$SYS/bar'], ['$BOB/bar', '$SYS/bar'], ['+/+', 'a'],
      ['+', '/finance'], ['/+', 'finance'], ['sport/+', 'sport'], ['foo/+', 'foo'], ['foo/bar/+', 'foo/bar'],
      ['+/monitor/Clients', '$SYS/monitor/Clients'], ['+/#', '$SYS/x'], ['#', '$'], ['+', '$x'], ['a/b', 'a/b/'],
      ['A/b', 'a/b'], ['a', 'a/b'], ['a/#', 'ab'], ['$share/g/foo/+', 'foo'], ['$share/g/#', '$SYS/x'], ['foo', 'foo/'],
      ['$share/g', 'g'], ['$share/g', '$share/g'],
    ]
    for (const [f, t] of yes) match(f, t)
    for (const [f, t] of no) noMatch(f, t)
  })

  it('[MQTT-4.7.1-1][MQTT-4.7.1-2][MQTT-4.7.1-3][MQTT-4.7.3-1] filter validity', function () {
    const valid = ['#', '+', '+/+', 'a', 'a/b', 'a/+', 'a/#', '+/a/#', '/', '//', '/a', 'a//b', '$SYS/#', 'a/+/+/b', ' ', '\uFEFF']
    const invalid = ['', 'a#', 'a/#/b', '#/a', 'a/b#', 'a+', '+a', 'a/+b', 'a/b+/c', '##', '++', 'a\u0000b', '#/', 'a/#/']
    for (const f of valid) assert.equal(validTopicFilter(f), true, `valid: '${f}'`)
    for (const f of invalid) assert.equal(validTopicFilter(f), false, `invalid: '${JSON.stringify(f)}'`)
  })

  it('[MQTT-4.7.3-1][MQTT-4.7.3-2][MQTT-3.3.2-2][MQTT-4.7.3-3] topic name validity, length limit in UTF-8 bytes', function () {
    const valid = ['a', '/', 'a/b', '/a', 'a/', '$SYS/x', ' ', 'ü/€', 'x'.repeat(65535), '€'.repeat(21845)]
    const invalid = ['', 'a/+', '+', '#', 'a/#', 'a\u0000', 'x'.repeat(65536), '€'.repeat(21846)]
    for (const t of valid) assert.equal(validTopicName(t), true, `valid: '${t.slice(0, 20)}' (${t.length})`)
    for (const t of invalid) assert.equal(validTopicName(t), false, `invalid: '${JSON.stringify(t.slice(0, 20))}' (${t.length})`)
  })

  it('maxTopicLevels: n slashes are n + 1 levels; the $share/{ShareName}/ prefix of a shared filter is not counted', function () {
    const table: Array<[string, number, boolean]> = [
      ['a', 1, true], ['a/b', 1, false], ['a/b', 2, true], ['/', 2, true], ['/', 1, false], ['a//b/', 4, true], ['a//b/', 3, false],
      ['$share/g/a/b', 2, true], ['$share/g/a/b', 1, false], ['$share/g/a/b/c', 2, false], ['$share/g/#', 1, true],
      ['$share/group/a', 1, true], ['$share/g', 1, true], ['$share/', 1, true], ['$share/g/', 1, true],
      ['$shared/a/b', 2, false], ['$shared/a/b', 3, true], ['x/$share/g/a', 4, true], ['x/$share/g/a', 3, false],
    ]
    for (const [topic, max, ok] of table) assert.equal(levelsWithin(topic, max), ok, `${topic} within ${max}`)
  })

  it('[MQTT-4.8.2-1][MQTT-4.8.2-2] shared subscription filters: $share/{ShareName}/{filter}', function () {
    assert.deepEqual(parseShared('$share/g/a/b'), { group: 'g', filter: 'a/b' })
    assert.deepEqual(parseShared('$share/g/#'), { group: 'g', filter: '#' })
    assert.deepEqual(parseShared('$share/group-1/+/x'), { group: 'group-1', filter: '+/x' })
    for (const f of ['a/b', '$share', '$SYS/x', '$sharex/g/a', '$Share/g/a']) assert.equal(parseShared(f), null, f)
    for (const f of ['$share/', '$share//a', '$share/g', '$share/g/', '$share/g+/a', '$share/g#/a', '$share/g/a/#/b', '$share/+/a']) {
      assert.equal(parseShared(f), false, f)
    }
  })
})
