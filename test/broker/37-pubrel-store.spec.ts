// What a PUBREL tells the persistence backend (src/broker/handlers/pubrel.ts), on paths mutation
// testing found undriven (docs/mutation.md): the packet identifier of an incoming QoS 2 message is
// forgotten on disk only for a persistent session and only when it was known, and the PUBCOMP
// waits for that removal to be durable. The backend is the broker's MemoryPersistence with its
// calls recorded and its durability barrier (sync) held by the test.
import assert from 'node:assert/strict'
import { MemoryPersistence } from '../../src/broker'
import type { Authorizer } from '../../src/broker/auth'
import { VERSIONS, hearthOnly, spec, useHarness } from '../helpers'

type Call = ['addIncoming' | 'removeIncoming', string, number] | ['sync']

class RecordingPersistence extends MemoryPersistence {
  calls: Call[] = []
  /** While set, sync() answers with a promise the test settles through release(). */
  hold = false
  private waiting: Array<() => void> = []

  override addIncoming (clientId: string, packetId: number): void { this.calls.push(['addIncoming', clientId, packetId]); super.addIncoming(clientId, packetId) }
  override removeIncoming (clientId: string, packetId: number): void { this.calls.push(['removeIncoming', clientId, packetId]); super.removeIncoming(clientId, packetId) }
  override sync (): undefined {
    this.calls.push(['sync'])
    if (!this.hold) return undefined
    // The interface allows a promise; MemoryPersistence's own signature says undefined.
    return new Promise<void>(resolve => this.waiting.push(resolve)) as unknown as undefined
  }

  /** Settle the syncs held so far and stop holding (close() syncs too). */
  release (): void { this.hold = false; for (const r of this.waiting.splice(0)) r() }
}

describe('37 PUBREL and the persistence backend', function () {
  const h = useHarness()

  for (const v of VERSIONS) {
    describe(`protocol level ${v}`, function () {
      it(`${spec(v, ['4.3.3-2', '3.1.2-4'], ['4.3.3-11', '4.3.3-12', '3.1.2-5'])} a persistent session: PUBREL removes the known identifier from the store and PUBCOMP waits until that is durable; an unknown one touches nothing`, async function () {
        hearthOnly('records the calls the broker makes on its persistence backend')
        const persistence = new RecordingPersistence()
        const b = await h.broker({ persistence })
        const sessionProps = v === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}
        const c = await b.connect({ protocolVersion: v, clientId: 'rel1', clean: false, ...sessionProps })
        c.send({ cmd: 'publish', topic: 'rel/a', payload: Buffer.from('x'), qos: 2, messageId: 7, retain: false, dup: false })
        assert.equal((await c.next('pubrec')).messageId, 7)
        assert.deepEqual(persistence.calls.filter(x => x[0] !== 'sync'), [['addIncoming', 'rel1', 7]])

        persistence.calls = []
        persistence.hold = true
        c.send({ cmd: 'pubrel', messageId: 7 })
        await c.expectNothing(150, 'pubcomp')
        assert.deepEqual(persistence.calls, [['removeIncoming', 'rel1', 7], ['sync']])
        persistence.release()
        const comp = await c.next('pubcomp')
        assert.deepEqual({ messageId: comp.messageId, reasonCode: comp.reasonCode ?? 0 }, { messageId: 7, reasonCode: 0 })

        persistence.calls = []
        c.send({ cmd: 'pubrel', messageId: 8 })
        const unknown = await c.next('pubcomp')
        // MQTT 5: 0x92 Packet Identifier not found; 3.1.1 has no reason code
        assert.deepEqual({ messageId: unknown.messageId, reasonCode: unknown.reasonCode ?? 0 }, { messageId: 8, reasonCode: v === 5 ? 0x92 : 0 })
        assert.deepEqual(persistence.calls, [])
      })

      it(`${spec(v, ['4.3.3-2'], ['4.3.3-11'])} a session that ends with the connection: a QoS 2 exchange never reaches the store`, async function () {
        hearthOnly('records the calls the broker makes on its persistence backend')
        const persistence = new RecordingPersistence()
        const b = await h.broker({ persistence })
        const c = await b.connect({ protocolVersion: v, clientId: 'rel2', clean: true })
        c.send({ cmd: 'publish', topic: 'rel/b', payload: Buffer.from('y'), qos: 2, messageId: 3, retain: false, dup: false })
        assert.equal((await c.next('pubrec')).messageId, 3)
        assert.deepEqual(persistence.calls, [['sync']], 'the identifier is kept in memory only')
        persistence.calls = []
        persistence.hold = true
        c.send({ cmd: 'pubrel', messageId: 3 })
        const comp = await c.next('pubcomp')
        assert.deepEqual({ messageId: comp.messageId, reasonCode: comp.reasonCode ?? 0 }, { messageId: 3, reasonCode: 0 })
        assert.deepEqual(persistence.calls, [])
        persistence.release()
      })

      it(`${spec(v, ['4.3.2-2', '4.3.3-2'], ['4.3.2-2', '4.3.3-2', '3.4.2-1'])} a refused PUBLISH is acknowledged without waiting for the store: nothing of it was written`, async function () {
        hearthOnly('uses a custom authoriser and records the calls on the persistence backend')
        const persistence = new RecordingPersistence()
        const authorize: Authorizer = {
          authorizePublish: (_c, topic) => topic === 'boom' ? Promise.reject(new Error('authoriser down')) : topic !== 'no',
          authorizeSubscribe: () => true,
        }
        const b = await h.broker({ persistence, authorize })
        const sessionProps = v === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}
        const c = await b.connect({ protocolVersion: v, clientId: 'ref1', clean: false, ...sessionProps })
        persistence.calls = []
        persistence.hold = true
        try {
          let id = 10
          for (const [topic, code] of [['no', 0x87], ['boom', 0x80]] as const) {
            for (const qos of [1, 2] as const) {
              c.send({ cmd: 'publish', topic, payload: Buffer.from('r'), qos, messageId: ++id, retain: false, dup: false })
              const ack = await c.next(qos === 1 ? 'puback' : 'pubrec')
              // 3.1.1 has no reason code: the message is acknowledged and dropped
              assert.deepEqual({ cmd: ack.cmd, messageId: ack.messageId, reasonCode: ack.reasonCode ?? 0 }, { cmd: qos === 1 ? 'puback' : 'pubrec', messageId: id, reasonCode: v === 5 ? code : 0 })
            }
          }
          // no identifier kept (a refused QoS 2 flow ends at its PUBREC), no durability barrier
          assert.deepEqual(persistence.calls, [])
        } finally {
          persistence.release()
        }
      })

      it(`${spec(v, ['3.1.4-2'], ['3.1.4-3'])} a QoS 2 PUBLISH still being authorised when its session is taken over ends quietly: no warning, no PUBREC`, async function () {
        hearthOnly('uses a custom authoriser')
        let release: (ok: boolean) => void = () => {}
        const authorize: Authorizer = {
          authorizePublish: (_c, topic) => topic === 'slow' ? new Promise<boolean>(resolve => { release = resolve }) : true,
          authorizeSubscribe: () => true,
        }
        const b = await h.broker({ authorize })
        const warnings: unknown[] = []
        b.broker.on('warning', w => warnings.push(w))
        const first = await b.connect({ protocolVersion: v, clientId: 'tk37' })
        first.send({ cmd: 'publish', topic: 'slow', payload: Buffer.from('s'), qos: 2, messageId: 4, retain: false, dup: false })
        await first.expectNothing(100, 'pubrec')
        const second = await b.connect({ protocolVersion: v, clientId: 'tk37' })
        await first.expectClosed()
        release(true)
        await second.expectNothing(150)
        assert.deepEqual({ warnings, pubrec: first.received.filter(p => p.cmd === 'pubrec') }, { warnings: [], pubrec: [] })
      })
    })
  }
})
