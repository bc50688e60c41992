/**
 * Bugs the fuzzer found, each reduced to a minimal reproduction. Tests marked `it.skip` with
 * `// lead: fix` fail on the current code and wait for a fix in the core (see the comment on
 * each); remove the skip with the fix.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createBroker, FilePersistence } from '../../src/broker'
import { WAIT, bytes, connectPacket, useHarness, type TestClient } from '../helpers'
import { pollUntil } from '../helpers/wait'

/** The first packet the broker sends, or null if it closes the connection without sending one. */
async function firstPacketOrClose (c: TestClient): Promise<{ cmd: string, rawLength: number } | null> {
  const first = await Promise.race([
    c.next(undefined, WAIT).then(p => p as unknown as { cmd: string, rawLength: number }),
    c.closed.then(() => null),
  ])
  if (first === null && c.received.length > 0) return c.received[0] as unknown as { cmd: string, rawLength: number }
  return first
}

describe('fuzz regressions', function () {
  const h = useHarness()

  // Found by seed 23 (fixed in src/broker/handlers/auth.ts): the broker answered an AUTH naming a
  // method with DISCONNECT 0x8C, which is a CONNACK code and not a DISCONNECT one.
  it('[MQTT-3.14.2-1] an AUTH naming an Authentication Method is answered with DISCONNECT 0x82 (0x8C is not a DISCONNECT Reason Code)', async function () {
    const b = await h.broker()
    const c = await b.connect({ protocolVersion: 5 })
    c.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'SCRAM-SHA-1' } })
    const d = await c.expectClosed()
    assert.ok(d !== undefined, 'a DISCONNECT before the close')
    const { length: _l, topic: _t, payload: _p, retain: _r, qos: _q, dup: _d, rawLength: _n, ...packet } = d as typeof d & Record<string, unknown>
    assert.deepEqual({ ...packet, properties: { ...d.properties } }, {
      cmd: 'disconnect', reasonCode: 0x82, properties: { reasonString: 'enhanced authentication is not supported' },
    })
  })

  // Found by seeds 5, 13 and 431. Connection.sendPacket drops any packet larger than the client's
  // Maximum Packet Size, CONNACK included, and finishConnect then activates the session: the client
  // gets PINGRESP, SUBACK or PUBACK without ever having had a CONNACK. A v5 CONNACK with an Assigned
  // Client Identifier and Topic Alias Maximum is about 30 bytes.
  // Proposed fix (handlers/connect.ts finishConnect, with connection.ts): encode the CONNACK first;
  // if even without Reason String / User Properties it exceeds conn.maxPacketSize, close the
  // connection without a CONNACK (and without the will) instead of activating it.
  it.skip('[MQTT-3.2.0-1][MQTT-3.1.2-24] a CONNACK larger than the client\'s Maximum Packet Size is not dropped while the session goes on', async function () {
    // lead: fix
    const b = await h.broker()
    const c = await b.open({ protocolVersion: 5 })
    c.send({ ...connectPacket({ protocolVersion: 5, clientId: '' }), properties: { maximumPacketSize: 20 } })
    c.send({ cmd: 'pingreq' })
    const first = await firstPacketOrClose(c)
    if (first !== null) {
      assert.equal(first.cmd, 'connack', 'the first packet from the broker must be CONNACK')
      assert.ok(first.rawLength <= 20, `a CONNACK of ${first.rawLength} bytes exceeds the client's maximum of 20`)
    }
  })

  // Found by seeds 402 and 430. operations.subscribe() awaits the authoriser for each filter and
  // then adds the subscription to the session it captured before the await, without checking that
  // the client still holds it. When the session ended meanwhile (the connection closed on a
  // malformed packet that came in the same read, or a Clean Start takeover discarded it), the
  // subscription stays in the trie for ever, bound to a dead session (routing keeps queueing for
  // it), and saveSession() writes the discarded session back into persistence, so it comes back
  // at the next start.
  // Proposed fix (src/broker/operations.ts subscribe): after each `await`, stop when
  // `c.session !== s` (throw, or return without codes) before touching s, the trie or persistence.
  it.skip('a SUBSCRIBE still being handled when its session ends leaves no subscription behind', async function () {
    // lead: fix
    for (const v of [3, 4, 5] as const) {
      const b = await h.broker()
      const c = await b.connect({ protocolVersion: v, clean: true })
      // SUBSCRIBE and, in the same write, an empty SUBSCRIBE (malformed [MQTT-3.8.3-3]) that closes the connection
      const sub = c.encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/+', qos: 1 }] })
      c.sendRaw(Buffer.concat([sub, bytes.packet(8, 2)]))
      await c.expectClosed()
      await pollUntil(() => b.broker.clients().length === 0, WAIT, 'the client to be gone')
      await new Promise(resolve => setImmediate(resolve))
      const { sessions, subscriptions } = b.broker.stats()
      assert.deepEqual({ sessions, subscriptions }, { sessions: 0, subscriptions: 0 }, `MQTT level ${v}`)
    }
  })

  it.skip('a SUBSCRIBE whose session a Clean Start takeover discards is not written back to persistence', async function () {
    // lead: fix
    const dir = await mkdtemp(join(tmpdir(), 'hearth-fuzz-reg-'))
    h.track(() => rm(dir, { recursive: true, force: true }))
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    const options = {
      persistence: new FilePersistence({ dir }),
      authorize: { authorizePublish: () => true, authorizeSubscribe: async () => { await gate; return true } },
    }
    const b = await h.broker(options)
    const old = await b.connect({ protocolVersion: 4, clientId: 'x', clean: false })
    const messageId = old.packetId()
    old.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic: 'a/+', qos: 1 }] })
    await pollUntil(() => b.broker.clients().length === 1, WAIT, 'the subscribe to be in progress')
    const taker = await b.connect({ protocolVersion: 4, clientId: 'x', clean: true }) // discards the session [MQTT-3.1.2-6]
    await old.expectClosed()
    taker.disconnect() // its clean session ends: nothing named x is left
    await taker.closed
    await pollUntil(() => b.broker.clients().length === 0, WAIT, 'the clients to be gone')
    release() // now the old connection's SUBSCRIBE gets its verdict
    await new Promise(resolve => setTimeout(resolve, 20))
    const live = { sessions: b.broker.stats().sessions, subscriptions: b.broker.stats().subscriptions }
    await b.broker.close()
    const again = createBroker({ persistence: new FilePersistence({ dir }) })
    h.track(() => again.close())
    await again.ready
    const restored = { sessions: again.stats().sessions, subscriptions: again.stats().subscriptions }
    assert.deepEqual({ live, restored }, { live: { sessions: 0, subscriptions: 0 }, restored: { sessions: 0, subscriptions: 0 } })
  })
})
