// Incoming PUBLISH paths found undriven by mutation testing (docs/mutation.md): the properties an
// in-process subscriber sees (exactly the application properties, nothing more), the largest topic
// alias, an empty topic without an alias, and Receive Maximum, which MQTT 3.1.1 does not have.
import assert from 'node:assert/strict'
import type { DeliveredMessage } from '../../src/broker/types'
import { useHarness } from '../helpers'

describe('34 incoming PUBLISH paths', function () {
  const h = useHarness()

  it('[MQTT-3.3.2-4][MQTT-3.3.2-15..20] an in-process subscriber gets exactly the application properties: none when only a Topic Alias came', async function () {
    const b = await h.broker()
    const local = await b.local({ protocolVersion: 5 })
    await local.subscribe([{ topic: 'ap/#', qos: 0 }])
    const got: DeliveredMessage[] = []
    local.on('message', (m: DeliveredMessage) => got.push(m))
    const pub = await b.connect({ protocolVersion: 5 })
    const cases = [
      undefined,
      { payloadFormatIndicator: false }, { messageExpiryInterval: 60 }, { contentType: 'c' }, { responseTopic: 'r/t' },
      { correlationData: Buffer.from([1, 2]) }, { userProperties: { k: 'v' } },
    ]
    for (let i = 0; i < cases.length; i++) {
      await pub.publish(`ap/${i}`, 'x', { qos: 1, properties: { topicAlias: i + 1, ...cases[i] } })
    }
    const deadline = Date.now() + 2000
    while (got.length < cases.length && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
    // (the parser gives user properties a null prototype: compared as a plain object)
    const plain = got.map(m => m.properties?.userProperties !== undefined ? { ...m.properties, userProperties: { ...m.properties.userProperties } } : m.properties)
    assert.deepStrictEqual(plain, cases)
  })

  it('[MQTT-3.3.2-8][MQTT-3.3.2-9] the Topic Alias equal to the broker\'s Topic Alias Maximum is accepted and resolves', async function () {
    const b = await h.broker({ topicAliasMaximum: 4 })
    const sub = await b.connect({ protocolVersion: 5 })
    await sub.subscribe('al/#', 0)
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('al/x', 'set', { qos: 1, properties: { topicAlias: 4 } })
    await pub.publish('', 'used', { qos: 1, properties: { topicAlias: 4 } })
    const got = await sub.publishes(2)
    assert.deepEqual(got.map(p => [p.topic, p.payload.toString()]), [['al/x', 'set'], ['al/x', 'used']])
  })

  it('[MQTT-3.3.2-8][MQTT-4.7.3-1] an empty topic without a Topic Alias is refused even after aliases were set: DISCONNECT 0x82/0x90, nothing delivered', async function () {
    const b = await h.broker()
    const sub = await b.connect({ protocolVersion: 5 })
    await sub.subscribe('et/#', 0)
    const pub = await b.connect({ protocolVersion: 5 })
    await pub.publish('et/a', 'first', { qos: 1, properties: { contentType: 'c' } })
    await pub.publish('et/b', 'aliased', { qos: 1, properties: { topicAlias: 1 } })
    assert.deepEqual((await sub.publishes(2)).map(p => p.topic), ['et/a', 'et/b'])
    pub.send({ cmd: 'publish', topic: '', payload: Buffer.from('lost'), qos: 0, retain: false, dup: false, properties: { contentType: 'c' } })
    const code = await pub.expectErrorClose([0x82, 0x90])
    assert.ok(code === 0x82 || code === 0x90)
    await sub.expectNothing(150, 'publish')
  })

  it('(MQTT 5 §3.3.4) Receive Maximum is MQTT 5 only: a 3.1.1 client may have more QoS 2 messages awaiting PUBREL', async function () {
    const b = await h.broker({ receiveMaximum: 2 })
    const c = await b.connect({ protocolVersion: 4 })
    for (let id = 1; id <= 4; id++) {
      c.send({ cmd: 'publish', topic: 'rm/x', payload: Buffer.from(String(id)), qos: 2, messageId: id, retain: false, dup: false })
      assert.equal((await c.next('pubrec')).messageId, id)
    }
    c.send({ cmd: 'pingreq' })
    await c.next('pingresp')
  })
})
