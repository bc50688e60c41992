// DISCONNECT with a Session Expiry Interval (MQTT 5 §3.14.2.2.2), without waiting for any expiry:
// which values are accepted (the will is then discarded and the session kept or ended) and which
// one is a Protocol Error. Found by mutation testing (docs/mutation.md): the specs that covered
// these rules wait for the expiry itself and are too slow for mutation runs.
import assert from 'node:assert/strict'
import { useHarness } from '../helpers'

describe('33 DISCONNECT and Session Expiry', function () {
  const h = useHarness()
  const will = { topic: 'dx/will', payload: Buffer.from('w'), qos: 0 as const, retain: false }

  for (const [connectExpiry, disconnectExpiry, kept] of [[0, 0, false], [10, 20, true], [10, 0, false], [30, 5, true]] as const) {
    it(`[MQTT-3.14.4-3] CONNECT with Session Expiry ${connectExpiry}, DISCONNECT 0x00 with ${disconnectExpiry}: a normal close, no will, session ${kept ? 'kept' : 'ended'}`, async function () {
      const b = await h.broker()
      const w = await b.connect({ protocolVersion: 5 })
      await w.subscribe('dx/#', 0)
      const c = await b.connect({ protocolVersion: 5, clientId: 'dx', properties: { sessionExpiryInterval: connectExpiry }, will })
      await c.subscribe('dx/keep', 1)
      c.disconnect(0, { sessionExpiryInterval: disconnectExpiry })
      await c.expectClosed()
      assert.deepEqual(c.received.filter(p => p.cmd === 'disconnect'), [], 'the broker sends no DISCONNECT back')
      await w.expectNothing(150, 'publish')
      const again = await b.connect({ protocolVersion: 5, clientId: 'dx', clean: false, properties: { sessionExpiryInterval: 10 } })
      assert.equal(again.connack?.sessionPresent, kept)
    })
  }

  it('[MQTT-3.14.2-2] CONNECT with Session Expiry 0, DISCONNECT with a non-zero one: DISCONNECT 0x82 and the will is published', async function () {
    const b = await h.broker()
    const w = await b.connect({ protocolVersion: 5 })
    await w.subscribe('dx/#', 0)
    const c = await b.connect({ protocolVersion: 5, properties: { sessionExpiryInterval: 0 }, will })
    c.disconnect(0, { sessionExpiryInterval: 5 })
    const d = await c.expectClosed()
    if (d !== undefined) assert.equal(d.reasonCode, 0x82)
    assert.equal((await w.waitFor('publish')).topic, 'dx/will')
  })
})
