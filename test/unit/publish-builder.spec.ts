// The publish node's message builder (src/nodes/hearth-publish/runtime.ts): the node's own values are read once
// when it is deployed, the msg's on every message. Whole messages compared, several messages per builder, so a
// value cached from one msg, or a node value shared between messages, shows.
import assert from 'node:assert/strict'
import { messageBuilder } from '../../src/nodes/hearth-publish/runtime'
import { DEFAULTS, type PublishNodeConfig } from '../../src/nodes/hearth-publish/types'
import type { NodeMessage } from '../../src/nodes/shared/red'

const node = (c: Partial<PublishNodeConfig>): PublishNodeConfig => ({ ...DEFAULTS, ...c })
const errorKey = (f: () => unknown): string => {
  try { f() } catch (err) { return (err as { key: string }).key }
  return 'no error'
}

const errorSubs = (f: () => unknown): unknown => {
  try { f() } catch (err) { return { ...(err as { subs: object }).subs } }
  return 'no error'
}

describe('unit: the publish node builds its messages', function () {
  it('takes everything from each msg when the node sets nothing: two msgs, two different messages', function () {
    const build = messageBuilder(node({}))
    const a: NodeMessage = { topic: 'a/1', payload: 'x', qos: 1, retain: true, contentType: 'text/plain', responseTopic: 'r/a', correlationData: 'c', userProperties: { k: 'v' }, messageExpiryInterval: 30, payloadFormatIndicator: true }
    const b: NodeMessage = { topic: 'b/2', payload: { n: 2 }, qos: '2', retain: 'false' }
    assert.deepEqual(build(a, true), {
      topic: 'a/1', payload: Buffer.from('x'), qos: 1, retain: true,
      properties: { contentType: 'text/plain', responseTopic: 'r/a', correlationData: Buffer.from('c'), userProperties: { k: 'v' }, messageExpiryInterval: 30, payloadFormatIndicator: true },
    })
    assert.deepEqual(build(b, true), { topic: 'b/2', payload: Buffer.from('{"n":2}'), qos: 2, retain: false })
    assert.deepEqual(build(a, false), { topic: 'a/1', payload: Buffer.from('x'), qos: 1, retain: true }, 'MQTT 3.1.1: no properties')
    assert.deepEqual(build({ payload: 1, topic: 't' }, true), { topic: 't', payload: Buffer.from('1'), qos: 0, retain: false }, 'defaults: QoS 0, not retained')
  })

  it("the node's values win over every msg's, message after message (as core mqtt out)", function () {
    const build = messageBuilder(node({ topic: 'fixed', qos: '2', retain: 'true', contentType: 'a/b', responseTopic: 'reply', correlationData: 'id', userProperties: '{"site":"north","n":3}', messageExpiryInterval: '60' }))
    const want = {
      topic: 'fixed', payload: Buffer.from('p'), qos: 2, retain: true,
      properties: { contentType: 'a/b', responseTopic: 'reply', correlationData: Buffer.from('id'), userProperties: { site: 'north', n: '3' }, messageExpiryInterval: 60 },
    }
    const first = build({ topic: 'other', payload: 'p', qos: 0, retain: false, contentType: 'x', userProperties: { site: 'south' }, messageExpiryInterval: 5 }, true)
    assert.deepEqual(first, want)
    // a flow that changes what it got does not change the node's next message
    ;(first.properties?.userProperties as Record<string, string>).site = 'changed'
    assert.deepEqual(build({ topic: 'other2', payload: 'p', qos: 1 }, true), want)
  })

  it("a value the node sets wrongly fails every message, and a msg's wrong value fails only its own", function () {
    const bad = messageBuilder(node({ qos: '3' as PublishNodeConfig['qos'] }))
    assert.equal(errorKey(() => bad({ topic: 't', payload: 1, qos: 0 }, true)), 'invalid-qos')
    assert.equal(errorKey(() => bad({ topic: 't', payload: 1, qos: 1 }, true)), 'invalid-qos')
    const badUser = messageBuilder(node({ userProperties: '[1]' }))
    assert.equal(errorKey(() => badUser({ topic: 't', payload: 1 }, true)), 'bad-user-properties')
    assert.equal(errorKey(() => badUser({ topic: 't', payload: 1 }, true)), 'bad-user-properties')
    const badExpiry = messageBuilder(node({ messageExpiryInterval: '-1' }))
    assert.equal(errorKey(() => badExpiry({ topic: 't', payload: 1 }, true)), 'bad-expiry')
    const fromMsg = messageBuilder(node({}))
    assert.equal(errorKey(() => fromMsg({ topic: 't', payload: 1, qos: 7 }, true)), 'invalid-qos')
    assert.deepEqual(fromMsg({ topic: 't', payload: 1, qos: 1 }, true), { topic: 't', payload: Buffer.from('1'), qos: 1, retain: false })
    assert.equal(errorKey(() => fromMsg({ topic: 'a/#', payload: 1 }, true)), 'invalid-topic')
    assert.equal(errorKey(() => fromMsg({ topic: 't', payload: 1, responseTopic: 'r/+' }, true)), 'invalid-response-topic')
    assert.equal(errorKey(() => fromMsg({ topic: 't', payload: 1, messageExpiryInterval: 'soon' }, true)), 'bad-expiry')
    // the error names the value that was read: the node's, else the msg's
    assert.deepEqual(errorSubs(() => bad({ topic: 't', payload: 1, qos: 1 }, true)), { qos: '3' })
    assert.deepEqual(errorSubs(() => fromMsg({ topic: 't', payload: 1, qos: 7 }, true)), { qos: '7' })
    assert.deepEqual(errorSubs(() => badExpiry({ topic: 't', payload: 1, messageExpiryInterval: 5 }, true)), { value: '-1' })
    assert.deepEqual(errorSubs(() => fromMsg({ topic: 't', payload: 1, messageExpiryInterval: 'soon' }, true)), { value: 'soon' })
  })
})
