/**
 * The short fuzz run of `npm test`: fixed seeds, then a few seconds from one random seed (printed
 * in the title, so a failure reproduces with `npm run fuzz -- --seed N`). Each round checks the
 * invariants of test/fuzz/driver.ts; a new failure is shrunk for a while and reported with its
 * minimal reproduction. Known failures (pinned by skipped tests in regressions.spec.ts) are listed
 * but do not fail the run. Long runs: `npm run fuzz -- --seconds 600 --seed N`.
 */
import assert from 'node:assert/strict'
import { fuzz, type FuzzSummary } from './run'
import { describeCase } from './report'
import { randomSeed } from './prng'
import { buildCase } from './case'
import { ALLOWED_PROPERTIES } from './generate'
import { runRound } from './driver'
import { Observer } from './observer'
import * as mqtt from 'mqtt-packet'
import { MemoryPersistence, type PersistedState } from '../../src/broker'
import type { FuzzCase } from './case'

/** Fixed seeds: together their cases send every packet type and property, wills, shared subscriptions, both persistences. */
const FIXED_SEEDS = Array.from({ length: 36 }, (_, i) => i + 1)
const RANDOM_SECONDS = 8
const SHRINK_MS = 15000

function verdict (s: FuzzSummary, how: string): void {
  const fresh = s.failures.filter(f => f.known === undefined)
  if (fresh.length === 0) return
  assert.fail(`${fresh.length} new fuzz failure(s) (${how}):\n` + fresh.map(f =>
    `- seed ${f.seed} (npm run fuzz -- --seed ${f.seed} --rounds 1): ${f.failure.kind}: ${f.failure.detail}` +
    (f.minimal !== undefined ? `\n  minimal reproduction:\n    ${describeCase(f.minimal).split('\n').join('\n    ')}` : '')).join('\n'))
}

function logKnown (s: FuzzSummary): void {
  for (const f of s.failures) if (f.known !== undefined) console.log(`      (seed ${f.seed}: known failure ${f.known})`)
}

describe('fuzz: seeded packets, mutations and split deliveries against a live broker', function () {
  this.timeout(180000)

  it('the generator is a pure function of the seed', function () {
    const a = buildCase(12345)
    const b = buildCase(12345)
    assert.deepEqual(a, b)
    assert.notDeepEqual(buildCase(12346), a)
  })

  it(`the fixed seeds send every packet type at levels 3, 4 and 5, and every MQTT 5 property in every packet that allows it`, function () {
    const seen = new Set<string>()
    const nibbles = new Set<number>()
    for (const seed of FIXED_SEEDS) {
      for (const cl of buildCase(seed).clients) {
        const p = mqtt.parser({ protocolVersion: cl.version })
        p.on('packet', (x: mqtt.Packet) => {
          const v = x.cmd === 'connect' ? x.protocolVersion : cl.version
          seen.add(`${x.cmd} v${v}`)
          for (const k of Object.keys((x as { properties?: object }).properties ?? {})) seen.add(`${x.cmd}.${k}`)
          if (x.cmd === 'connect') for (const k of Object.keys(x.will?.properties ?? {})) seen.add(`will.${k}`)
        })
        p.on('error', () => { /* mutated bytes */ })
        for (const b of cl.packets) { nibbles.add(b[0] >> 4); try { p.parse(b) } catch { /* mutated bytes */ } }
      }
    }
    const want: string[] = []
    for (const cmd of ['connect', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'unsubscribe', 'pingreq', 'disconnect', 'connack', 'suback', 'pingresp']) {
      for (const v of [3, 4, 5]) want.push(`${cmd} v${v}`)
    }
    want.push('auth v5', 'unsuback v4')
    for (const [kind, names] of Object.entries(ALLOWED_PROPERTIES)) {
      if (kind === 'connack' || kind === 'suback' || kind === 'unsuback') continue // a server's packets, sent only to be refused
      for (const n of names) want.push(`${kind}.${n}`)
    }
    assert.deepEqual(want.filter(w => !seen.has(w)), [], 'not covered by the fixed seeds')
    assert.equal(nibbles.size, 16, 'every packet type nibble, reserved 0 and 15 included')
  })

  /** A one-client case: the packets given, sent whole over a duplex pair, memory persistence. */
  function oneClient (v: 4 | 5, ...packets: mqtt.Packet[]): FuzzCase {
    return {
      seed: 0,
      persistence: 'memory',
      syncMode: 'always',
      compactThreshold: 8 * 1024 * 1024,
      broker: { tickInterval: 20 },
      clients: [{ transport: 'duplex', version: v, wave: 0, packets: packets.map(p => mqtt.generate(p, { protocolVersion: v })), splitSeed: 1, autoAck: true, ending: 'end', mutations: [] }],
    }
  }
  const connect = (v: 4 | 5): mqtt.Packet => ({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: 'self', clean: true, keepalive: 0 })

  // The invariants must be able to fail: break the broker on purpose and watch each one report.
  it('self-test: an error thrown while handling a packet is reported as an internal-error failure', async function () {
    const c = oneClient(4, connect(4), { cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, retain: false, dup: false })
    const r = await runRound(c, { checkMemory: false, extra: { authorize: { authorizePublish: () => { throw new Error('boom') }, authorizeSubscribe: () => true } } })
    const kinds = new Set(r.failures.map(f => f.kind))
    assert.ok(kinds.has('internal-error'), JSON.stringify(r.failures))
    assert.ok(kinds.has('not-routing'), 'the probe cannot publish either')
  })

  it('self-test: a restart that loses state is reported as a restart-state failure', async function () {
    class Lossy extends MemoryPersistence {
      private opens = 0
      override async open (): Promise<PersistedState> {
        const st = await super.open()
        if (++this.opens > 1) st.retained = []
        return st
      }
    }
    const c = oneClient(5, connect(5), { cmd: 'publish', topic: 'keep', payload: Buffer.from('x'), qos: 1, messageId: 1, retain: true, dup: false })
    const r = await runRound(c, { checkMemory: false, extra: { persistence: new Lossy() } })
    assert.deepEqual(r.failures.map(f => f.kind), ['restart-state'], JSON.stringify(r.failures))
    assert.match(r.failures[0].detail, /lost retained "keep"/)
  })

  it('self-test: a clean round reports nothing', async function () {
    const r = await runRound(oneClient(5, connect(5), { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 2 }] },
      { cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 2, messageId: 2, retain: true, dup: false }, { cmd: 'pubrel', messageId: 2 },
      { cmd: 'disconnect', reasonCode: 0 }), { checkMemory: true })
    assert.deepEqual(r.failures, [])
    assert.deepEqual(r.received, { connack: 1, suback: 1, pubrec: 1, pubcomp: 1, publish: 1 })
  })

  it('self-test: the observer rejects broker output that breaks the protocol', function () {
    const seen: string[] = []
    const feed = (version: number, ...frames: string[]): void => {
      const o = new Observer({ version, maximumPacketSize: undefined, topicAliasMaximum: 0 }, (_k, d) => seen.push(d), () => {})
      for (const f of frames) o.feed(Buffer.from(f, 'hex'))
    }
    feed(5, '4002000e') // PUBACK before CONNACK
    feed(5, '2003000000', 'e0028c00') // DISCONNECT 0x8C
    feed(4, '20020000', 'e000') // DISCONNECT to a 3.1.1 client
    feed(5, '2003000000', '3008000161032300017a') // PUBLISH with topic alias 1 above the client's maximum 0 [MQTT-3.3.2-9]
    feed(5, '2003000000', '308000') // Remaining Length not minimal
    feed(5, '20030000', '00', '20', '03000000') // a second CONNACK, delivered in pieces
    assert.equal(seen.length, 6, seen.join('\n'))
  })

  it(`fixed seeds 1..${FIXED_SEEDS.length}`, async function () {
    const s = await fuzz({ seed: 0, seeds: FIXED_SEEDS, shrinkMs: SHRINK_MS, memoryEvery: 4 })
    logKnown(s)
    assert.equal(s.rounds, FIXED_SEEDS.length)
    verdict(s, 'fixed seeds')
  })

  const seed = randomSeed()
  it(`random seed ${seed} for ${RANDOM_SECONDS} s (reproduce: npm run fuzz -- --seed ${seed})`, async function () {
    const s = await fuzz({ seed, seconds: RANDOM_SECONDS, shrinkMs: SHRINK_MS, memoryEvery: 4 })
    console.log(`      ${s.rounds} rounds (seeds ${seed}..${(seed + s.rounds - 1) >>> 0}), ${s.packets} packets, ${(s.rounds / (s.ms / 1000)).toFixed(1)} rounds/s`)
    logKnown(s)
    assert.ok(s.rounds >= 1)
    verdict(s, `random seeds from ${seed}`)
  })
})
