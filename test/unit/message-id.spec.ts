// Message ids of the subscribe node (src/nodes/shared/message-id.ts): Node-RED's shape, unique, counting up
// across the points where the cached leading digits change.
import assert from 'node:assert/strict'
import { messageId } from '../../src/nodes/shared/message-id'

describe('unit: message ids', function () {
  it('100,000 ids: 16 hexadecimal digits each, one process prefix, each the one before plus one', function () {
    const ids = Array.from({ length: 100000 }, messageId)
    const prefix = ids[0].slice(0, 8)
    let prev = BigInt(`0x${ids[0].slice(8)}`)
    for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/)
    for (const id of ids.slice(1)) {
      assert.equal(id.slice(0, 8), prefix)
      const n = BigInt(`0x${id.slice(8)}`)
      assert.equal(n, (prev + 1n) % 0x100000000n, `${id} after ${prev.toString(16)}`)
      prev = n
    }
    assert.equal(new Set(ids).size, ids.length)
  })
})
