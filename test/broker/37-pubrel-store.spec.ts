// What a PUBREL tells the persistence backend (src/broker/handlers/pubrel.ts), on paths mutation
// testing found undriven (docs/mutation.md): the packet identifier of an incoming QoS 2 message is
// forgotten on disk only for a persistent session and only when it was known, and the PUBCOMP
// waits for that removal to be durable. The backend is the broker's MemoryPersistence with its
// calls recorded and its durability barrier (sync) held by the test.
import assert from 'node:assert/strict'
import { MemoryPersistence } from '../../src/broker'
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
        persistence.calls = []
        persistence.hold = true
        c.send({ cmd: 'pubrel', messageId: 3 })
        const comp = await c.next('pubcomp')
        assert.deepEqual({ messageId: comp.messageId, reasonCode: comp.reasonCode ?? 0 }, { messageId: 3, reasonCode: 0 })
        assert.deepEqual(persistence.calls, [])
        persistence.release()
      })
    })
  }
})
