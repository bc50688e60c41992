/**
 * The monitoring API the broker node's sidebar uses: broker.observe() sees every accepted message
 * (network, in-process, will, the broker's own; not $SYS, not what was refused) with its publisher,
 * stops when asked, survives an observer that throws; ClientInfo.dropped counts a client's drops;
 * broker.disconnectClient() ends a client by id.
 */
import assert from 'node:assert/strict'
import type { Message } from '../../src/broker/types'
import { sleep, uniqueId, useHarness } from '../helpers'
import { pollUntil } from '../helpers/wait'

type Seen = { topic: string, payload: string, qos: number, retain: boolean, clientId: string | undefined }
const seen = (m: Readonly<Message>, clientId: string | undefined): Seen => ({ topic: m.topic, payload: m.payload.toString(), qos: m.qos, retain: m.retain, clientId })

describe('42 monitoring: broker.observe, ClientInfo.dropped, disconnectClient', function () {
  const h = useHarness()

  it('observe() sees network, in-process, will and broker publishes with their publisher, and not $SYS or refused ones', async function () {
    const b = await h.broker({
      sysInterval: 1,
      tickInterval: 50,
      authorize: { authorizePublish: (_c, topic) => !topic.startsWith('secret/'), authorizeSubscribe: () => true },
    })
    const got: Seen[] = []
    const stop = b.broker.observe((m, id) => got.push(seen(m, id)))
    const pubId = uniqueId('pub')
    const pub = await b.connect({ protocolVersion: 5, clientId: pubId })
    await pub.publish('a/1', 'one', { qos: 1 })
    await pub.publish('a/kept', 'k', { qos: 1, retain: true })
    await pub.publish('secret/x', 'no', { qos: 1 }) // refused: 0x87
    const local = await b.local({ clientId: 'local-1' })
    await local.publish({ topic: 'l/1', payload: Buffer.from('in-process'), qos: 0, retain: false })
    await b.broker.publish({ topic: 'b/1', payload: Buffer.from('broker'), qos: 0, retain: false })
    const willId = uniqueId('will')
    const w = await b.connect({ protocolVersion: 4, clientId: willId, will: { topic: 'w/1', payload: Buffer.from('gone'), qos: 0, retain: false } })
    w.stream.destroy()
    await pollUntil(() => got.length >= 5, 3000, 'the will')
    await sleep(1200) // a $SYS round passes
    assert.deepEqual(got, [
      { topic: 'a/1', payload: 'one', qos: 1, retain: false, clientId: pubId },
      { topic: 'a/kept', payload: 'k', qos: 1, retain: true, clientId: pubId },
      { topic: 'l/1', payload: 'in-process', qos: 0, retain: false, clientId: 'local-1' },
      { topic: 'b/1', payload: 'broker', qos: 0, retain: false, clientId: undefined },
      { topic: 'w/1', payload: 'gone', qos: 0, retain: false, clientId: willId },
    ])
    stop()
    await pub.publish('a/2', 'after', { qos: 1 })
    assert.equal(got.length, 5, 'nothing after stop()')
  })

  it('an observer that throws is reported as a warning and neither the publish nor the other observers suffer', async function () {
    const b = await h.broker({ sysInterval: 0 })
    const warnings: string[] = []
    b.broker.on('warning', w => warnings.push(`${w.message}: ${w.error?.message ?? ''}`))
    const got: string[] = []
    const bad = (): void => { throw new Error('boom') }
    b.broker.observe(bad)
    const stopSecond = b.broker.observe(bad) // the same function twice: two observers, stopped one by one
    b.broker.observe((m) => got.push(m.topic))
    const sub = await b.connect({ protocolVersion: 5 })
    await sub.subscribe('t/#', 1)
    const pub = await b.connect({ protocolVersion: 5 })
    assert.equal((await pub.publish('t/1', 'x', { qos: 1 }))?.cmd, 'puback')
    assert.equal((await sub.waitFor('publish')).topic, 't/1')
    assert.deepEqual(got, ['t/1'])
    assert.deepEqual(warnings, ['a publish observer threw: boom', 'a publish observer threw: boom'])
    stopSecond()
    await pub.publish('t/2', 'x', { qos: 1 })
    assert.deepEqual(warnings.length, 3)
  })

  it('ClientInfo.dropped counts the drops for a client (queue full) and from it (not authorised)', async function () {
    const b = await h.broker({
      sysInterval: 0,
      maxQueuedMessages: 1,
      authorize: { authorizePublish: (_c, topic) => topic !== 'denied', authorizeSubscribe: () => true },
    })
    const slowId = uniqueId('slow')
    const slow = await b.connect({ protocolVersion: 5, clientId: slowId, properties: { receiveMaximum: 1 } })
    await slow.subscribe('q/#', 1)
    const pubId = uniqueId('pub')
    const pub = await b.connect({ protocolVersion: 5, clientId: pubId })
    for (let i = 0; i < 4; i++) await pub.publish('q/1', String(i), { qos: 1 }) // 1 in flight, 1 queued, 2 dropped
    await pub.publish('denied', 'x', { qos: 1 })
    const info = (id: string): number | undefined => b.broker.clients().find(c => c.clientId === id)?.dropped
    assert.deepEqual([info(slowId), info(pubId)], [2, 1])
  })

  it('disconnectClient() ends a connected client by id (MQTT 5: DISCONNECT 0x98) and answers false for an unknown id', async function () {
    const b = await h.broker({ sysInterval: 0 })
    const id = uniqueId('bye')
    const c = await b.connect({ protocolVersion: 5, clientId: id })
    assert.equal(b.broker.disconnectClient('nobody'), false)
    assert.equal(b.broker.disconnectClient(id), true)
    const d = await c.waitFor('disconnect')
    assert.equal(d.reasonCode, 0x98)
    await c.closed
    await pollUntil(() => !b.broker.clients().some(x => x.clientId === id), 3000, 'the client to be gone')
  })
})
