// src/nodes/shared/values.ts: the one reader of QoS, booleans, integers and user properties that the
// four nodes share (issue 13).
import assert from 'node:assert/strict'
import { INVALID, parseIntIn, readBool, readFlag, readInt, readQoS, readUserProperties } from '../../src/nodes/shared/values'

describe('shared value readers', function () {
  it('readQoS: numbers and digit strings 0-2; unset takes the fallback; anything else is INVALID', function () {
    assert.deepEqual([0, 1, 2, '0', '1', ' 2 '].map((v) => readQoS(v, 0)), [0, 1, 2, 0, 1, 2])
    assert.deepEqual([undefined, null, ''].map((v) => readQoS(v, 2)), [2, 2, 2])
    assert.deepEqual([3, -1, 1.5, '1.0', 'one', true, {}, []].map((v) => readQoS(v, 0)), Array(8).fill(INVALID))
  })

  it('readInt and parseIntIn: whole numbers in range only', function () {
    assert.equal(readInt('60', 5, 0, 65535), 60)
    assert.equal(readInt('', 5, 0, 65535), 5)
    assert.deepEqual(['65536', '-1', '1e3', '0x10', '12abc', false].map((v) => readInt(v, 5, 0, 65535)), Array(6).fill(INVALID))
    assert.equal(parseIntIn(4294967295, 0, 4294967295), 4294967295)
    assert.equal(parseIntIn('4294967296', 0, 4294967295), undefined)
  })

  it('readBool and readFlag: true/"true" and false/"false"', function () {
    assert.deepEqual([true, 'true', false, 'false', undefined, '', 'yes', 1].map(readBool), [true, true, false, false, undefined, undefined, undefined, undefined])
    assert.deepEqual([true, 'true', false, 'false', 'yes', 1].map((v) => readFlag(v, true)), [true, true, false, false, false, false])
    assert.deepEqual([undefined, null, ''].map((v) => readFlag(v, true)), [true, true, true])
  })

  it('readUserProperties: an object or its JSON text; null and undefined values are dropped, others sent as JSON', function () {
    assert.deepEqual(readUserProperties({ a: 'x', n: 1, b: true, o: { k: [1] }, gone: null, none: undefined }), { a: 'x', n: '1', b: 'true', o: '{"k":[1]}' })
    assert.deepEqual(readUserProperties('{"site":"north","gone":null}'), { site: 'north' })
    assert.deepEqual([undefined, null, '', '  ', '{}', { only: null }].map(readUserProperties), Array(6).fill(undefined))
    assert.deepEqual(['[1]', '"x"', 'not json', 5, ['a']].map(readUserProperties), Array(5).fill(INVALID))
  })
})
