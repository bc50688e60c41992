/**
 * A fuzz case: broker options, a persistence choice and the scripts of many concurrent clients,
 * all derived from one seed. A case serialises to JSON (packets as hex) so that a minimised
 * failing case can be replayed and turned into a regression test.
 */
import { Rng } from './prng'
import { genSession, type GenEnv, type Version } from './generate'
import { mutate } from './mutate'
import type { BrokerOptions } from '../../src/broker/types'

type Transport = 'tcp' | 'duplex'

export interface ClientScript {
  transport: Transport
  /** The protocol level the generator spoke (the broker sees whatever the bytes say). */
  version: Version
  /** Clients of one wave run together; a wave starts when the previous one has ended. */
  wave: number
  /** One element per (possibly mutated) packet; they are sent back to back. */
  packets: Buffer[]
  /** Seeds the random split of the byte stream into writes, and the pauses between them. */
  splitSeed: number
  /** Answer the broker's QoS 1/2 PUBLISH and PUBREL as a well-behaved client would. */
  autoAck: boolean
  /** After the script: a graceful end, or a reset. */
  ending: 'end' | 'destroy'
  /** Names of the mutations applied (for the report). */
  mutations: string[]
  /** After this many packets, wait `pauseMs` (keepalive timeouts, will delays, expiry run meanwhile). */
  pauseAt?: number
  pauseMs?: number
  /** Never read what the broker sends until the script is over (a slow consumer). */
  pauseReading?: boolean
  /** Stay connected this long after the script (to take deliveries); default: until 30 ms of quiet. */
  lingerMs?: number
}

/** Broker options a case may set (the JSON-friendly subset of BrokerOptions). */
export type CaseBrokerOptions = Omit<BrokerOptions, 'persistence' | 'authenticate' | 'authorize'>

export interface FuzzCase {
  seed: number
  persistence: 'file' | 'memory'
  syncMode: 'always' | 'periodic'
  /** FilePersistence compaction threshold, small so compaction runs during a round. */
  compactThreshold: number
  broker: CaseBrokerOptions
  clients: ClientScript[]
  /** Close the broker this many ms into the first wave, with clients still at work. */
  closeEarlyMs?: number
  /** Copy the persistence directory this many ms into the round (a crash image) and open a broker on the copy. */
  crashCopyMs?: number
}

export interface CaseLimits {
  maxClients: number
  maxWaves: number
}

export const DEFAULT_LIMITS: CaseLimits = { maxClients: 16, maxWaves: 3 }

function brokerOptions (rng: Rng): CaseBrokerOptions {
  const o: CaseBrokerOptions = { tickInterval: rng.int(10, 50) }
  const maybe = <K extends keyof CaseBrokerOptions>(p: number, key: K, values: ReadonlyArray<CaseBrokerOptions[K]>): void => {
    if (rng.chance(p)) o[key] = rng.pick(values)
  }
  maybe(0.25, 'maxPacketSize', [64, 200, 1024, 4096, 65536])
  maybe(0.2, 'receiveMaximum', [1, 2, 10])
  maybe(0.2, 'maxInflight', [1, 2, 5])
  maybe(0.2, 'maxQueuedMessages', [0, 1, 5, 50])
  maybe(0.1, 'maxOutgoingBytes', [1024, 8192])
  maybe(0.15, 'maximumQoS', [0, 1])
  maybe(0.1, 'retainAvailable', [false])
  maybe(0.2, 'topicAliasMaximum', [0, 2, 10])
  maybe(0.1, 'outboundTopicAliases', [false])
  maybe(0.1, 'protocols', [[4, 5], [5], [3, 4], [4]])
  maybe(0.15, 'maxSessionExpiryInterval', [0, 1, 60])
  maybe(0.1, 'maxKeepalive', [10, 60])
  maybe(0.1, 'connectTimeout', [300, 1000])
  return o
}

/** Build the case for `seed`. */
export function buildCase (seed: number, limits: CaseLimits = DEFAULT_LIMITS): FuzzCase {
  const rng = new Rng(seed)
  const persistence = rng.chance(0.6) ? 'file' : 'memory'
  const syncMode = rng.chance(0.5) ? 'always' : 'periodic'
  const compactThreshold = rng.pick([512, 4096, 65536, 8 * 1024 * 1024])
  const broker = brokerOptions(rng)
  const nIds = rng.int(2, 8)
  const clientIds = Array.from({ length: nIds }, (_, i) => i === 0 && rng.chance(0.2) ? 'é日本' : `f${i}`)
  const env: GenEnv = { clientIds, levels: ['a', 'b', 'c', 'é'].slice(0, rng.int(2, 4)) }
  const waves = rng.int(1, limits.maxWaves)
  const n = rng.int(1, limits.maxClients)
  const clients: ClientScript[] = []
  for (let i = 0; i < n; i++) {
    const r = rng.fork()
    const version = r.weighted([[1, 3], [3, 4], [5, 5]] as const)
    const valid = genSession(r, env, version)
    const count = r.chance(0.45) ? 0 : r.int(1, 3)
    const m = mutate(r, valid, version, count)
    clients.push({
      transport: r.chance(0.5) ? 'tcp' : 'duplex',
      version,
      wave: r.int(0, waves - 1),
      packets: m.packets,
      splitSeed: r.u32(),
      autoAck: r.chance(0.6),
      ending: r.chance(0.6) ? 'end' : 'destroy',
      mutations: m.applied,
    })
    // Drawn last, so adding them left the packets of every seed as they were.
    const cl = clients[clients.length - 1]
    if (r.chance(0.015)) { cl.pauseAt = r.int(0, Math.max(0, cl.packets.length - 1)); cl.pauseMs = r.int(1200, 2500) }
    if (r.chance(0.05)) cl.pauseReading = true
    if (r.chance(0.3)) cl.lingerMs = r.int(30, 150)
  }
  const out: FuzzCase = { seed, persistence, syncMode, compactThreshold, broker, clients }
  if (rng.chance(0.08)) out.closeEarlyMs = rng.int(0, 150)
  if (persistence === 'file' && rng.chance(0.25)) out.crashCopyMs = rng.int(0, 150)
  return out
}

export function caseBytes (c: FuzzCase): number {
  let n = 0
  for (const cl of c.clients) for (const p of cl.packets) n += p.length
  return n
}

interface JsonClient extends Omit<ClientScript, 'packets'> { packets: string[] }
interface JsonCase extends Omit<FuzzCase, 'clients'> { clients: JsonClient[] }

export function caseToJson (c: FuzzCase): string {
  const j: JsonCase = { ...c, clients: c.clients.map(cl => ({ ...cl, packets: cl.packets.map(p => p.toString('hex')) })) }
  return JSON.stringify(j, null, 1)
}

export function caseFromJson (s: string): FuzzCase {
  const j = JSON.parse(s) as JsonCase
  return { ...j, clients: j.clients.map(cl => ({ ...cl, packets: cl.packets.map(p => Buffer.from(p, 'hex')) })) }
}
