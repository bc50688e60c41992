/**
 * One fuzz round: a broker (FilePersistence in a temp dir, or memory persistence) takes the
 * clients of a case over real TCP sockets and broker.handle() duplex pairs, wave after wave,
 * each client's bytes split at random boundaries. Then the invariants: no internal-error close
 * and no warning, nothing thrown out of handle() or escaped as an uncaught exception, the broker's
 * output well-formed, every connection released, memory bounded, a fresh client still routed,
 * a clean close, and a new broker on the same persistence restoring the same state and routing.
 */
import net from 'node:net'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { createBroker, FilePersistence, MemoryPersistence, type Broker, type BrokerOptions, type Persistence } from '../../src/broker'
import { duplexPair } from '../helpers/duplex-pair'
import { Rng } from './prng'
import { caseBytes, type ClientScript, type FuzzCase } from './case'
import { Observer, ackFor, connectInfo } from './observer'
import { consistency, coreOf, diffSnapshots, gc, guardProcess, memory, probe, snapshot } from './checks'

export interface Failure { kind: string, detail: string }

export interface RoundResult {
  failures: Failure[]
  ms: number
  bytes: number
  packets: number
  /** Memory (heap + ArrayBuffers) after the round, once everything is closed and collected. */
  memoryAfter: number
  /** Packets the fuzz clients received from the broker, by type. */
  received: Record<string, number>
}

export interface RoundOptions {
  /** Check memory growth within the round (costs two full GCs). Default true. */
  checkMemory?: boolean
  /** Stop the round at the first failure instead of collecting all (faster shrinking). */
  failFast?: boolean
  /** Options added to both brokers' (the self-tests give a broken authoriser or persistence). */
  extra?: Partial<BrokerOptions>
}

/** Generous bounds: a round may hold what it sent a few times over (retained, queues, persistence mirror). */
const MEMORY_SLACK = 96 * 1024 * 1024
const MEMORY_PER_BYTE = 16
const CLOSE_WAIT = 15000

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const tick = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

/** Wait for `p`, at most `ms`; the timer is cleared either way (no timer outlives a round). */
async function upTo (p: Promise<unknown>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined
  await Promise.race([p, new Promise<void>(resolve => { t = setTimeout(resolve, ms) })])
  clearTimeout(t)
}

async function within<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  const timer = new Promise<never>((_resolve, reject) => { t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms) })
  p.catch(() => { /* if it loses the race, its later rejection is not news */ })
  try {
    return await Promise.race([p, timer])
  } finally {
    clearTimeout(t)
  }
}

class Round {
  readonly failures: Failure[] = []
  readonly streams = new Set<Duplex>()
  /** Packets the fuzz clients received, by type (how deep the round got). */
  readonly received: Record<string, number> = {}
  port = 0
  /** A third broker (on a crash image), closed by the cleanup if a check left it open. */
  extra: Broker | undefined
  constructor (readonly c: FuzzCase, readonly broker: Broker) {}

  fail (kind: string, detail: string): void {
    if (this.failures.length < 20) this.failures.push({ kind, detail })
  }

  watch (b: Broker, label: string): void {
    b.on('warning', w => this.fail(w.message === 'error while handling a packet' ? 'internal-error' : 'warning',
      `${label}: ${w.message}${w.clientId !== undefined ? ` (client ${w.clientId})` : ''}${w.error ? `: ${w.error.stack ?? w.error.message}` : ''}`))
    b.on('clientDisconnected', d => {
      // 0x83 from the broker itself; a client may send DISCONNECT 0x83 of its own ("client disconnected: ...")
      if (d.reasonCode === 0x83 && !d.reason.startsWith('client disconnected')) this.fail('internal-error', `${label}: client ${d.clientId} closed with 0x83: ${d.reason}`)
    })
  }

  private async open (script: ClientScript): Promise<Duplex | null> {
    if (script.transport === 'tcp') {
      const sock = net.connect({ port: this.port, host: '127.0.0.1' })
      sock.setNoDelay(true)
      this.streams.add(sock)
      sock.on('error', () => { /* the broker may reset us */ })
      const ok = await new Promise<boolean>(resolve => { sock.once('connect', () => resolve(true)); sock.once('close', () => resolve(false)) })
      return ok ? sock : null
    }
    const [client, server] = duplexPair()
    this.streams.add(client)
    client.on('error', () => { /* the broker may close first */ })
    try {
      this.broker.handle(server)
    } catch (err) {
      this.fail('handle-threw', (err as Error).stack ?? String(err))
      return null
    }
    return client
  }

  async client (script: ClientScript, index: number): Promise<void> {
    const stream = await this.open(script)
    if (stream === null) return
    const bytes = Buffer.concat(script.packets)
    const info = connectInfo(bytes)
    let closed = false
    let lastData = Date.now()
    const done = new Promise<void>(resolve => stream.once('close', () => { closed = true; resolve() }))
    // Acknowledgements wait for a packet boundary of the script, so they never land inside a packet.
    const boundaries = new Set<number>()
    script.packets.reduce((n, p) => { boundaries.add(n + p.length); return n + p.length }, 0)
    let atBoundary = true
    const acks: Buffer[] = []
    const flushAcks = (): void => {
      while (acks.length > 0 && atBoundary && !stream.destroyed && !stream.writableEnded) {
        const a = acks.shift() as Buffer
        obs.sent(a)
        stream.write(a)
      }
    }
    const obs: Observer = new Observer(info, (kind, detail) => this.fail(kind, `client ${index}: ${detail}`), p => {
      if (!script.autoAck || info.version === undefined) return
      const a = ackFor(p, info.version)
      if (a !== null) { acks.push(a); flushAcks() }
    })
    stream.on('data', (d: Buffer) => { lastData = Date.now(); obs.feed(d) })
    if (script.pauseReading === true) stream.pause()
    const rng = new Rng(script.splitSeed)
    const pauseOffset = script.pauseAt === undefined ? Infinity : script.packets.slice(0, script.pauseAt + 1).reduce((n, p) => n + p.length, 0)
    let pos = 0
    while (pos < bytes.length && !closed && !stream.destroyed) {
      const n = rng.weighted([[3, rng.int(1, 4)], [4, rng.int(5, 64)], [2, rng.int(65, 1024)], [1, bytes.length]] as const)
      const end = pos < pauseOffset ? Math.min(pos + n, pauseOffset) : pos + n
      const chunk = bytes.subarray(pos, end)
      obs.sent(chunk)
      stream.write(chunk)
      pos = end
      atBoundary = boundaries.has(pos)
      flushAcks()
      if (pos === pauseOffset) await upTo(done, script.pauseMs ?? 0)
      const r = rng.float()
      if (r < 0.3) await tick()
      else if (r < 0.33) await sleep(rng.int(1, 4))
    }
    atBoundary = true
    flushAcks()
    if (script.pauseReading === true) stream.resume()
    // Let the broker answer (or close) before we leave: quiet for a moment, at most a second.
    const started = Date.now()
    const until = started + 1000
    const linger = script.lingerMs ?? 0
    while (!closed && Date.now() < until && (Date.now() - lastData < 30 || Date.now() - started < linger)) await sleep(10)
    if (!closed) await sleep(10)
    if (script.ending === 'end' && !closed) {
      stream.end()
      await upTo(done, 2000)
    }
    stream.destroy()
    await done
    for (const [k, n] of Object.entries(obs.counts)) this.received[k] = (this.received[k] ?? 0) + n
  }
}

function persistenceFor (c: FuzzCase, dir: string | undefined, memory: MemoryPersistence | undefined, round: { fail: (k: string, d: string) => void }, label: string): Persistence {
  if (dir === undefined) return memory as MemoryPersistence
  return new FilePersistence({ dir, syncMode: c.syncMode, flushInterval: 50, compactThreshold: c.compactThreshold, onWarning: m => round.fail('persistence-warning', `${label}: ${m}`) })
}

/** Every network connection released once its client has gone. */
async function waitReleased (b: Broker, what: string): Promise<string | null> {
  const core = coreOf(b)
  const deadline = Date.now() + 10000
  while (Date.now() < deadline) {
    if (core.ticking.size === 0 && core.clients.size === 0) return null
    await sleep(20)
  }
  return `${what}: ${core.ticking.size} connections and ${core.clients.size} clients still held 10 s after every client closed: ${[...core.clients.keys()].slice(0, 5).join(', ')}`
}

async function closeBroker (r: Round, b: Broker, label: string): Promise<boolean> {
  try {
    await within(b.close(), CLOSE_WAIT, `${label} close()`)
    return true
  } catch (err) {
    r.fail('close', `${label}: ${(err as Error).message}`)
    return false
  }
}

interface Ctx {
  c: FuzzCase
  opts: RoundOptions
  dir: string | undefined
  mem: MemoryPersistence | undefined
  round?: Round
  broker2?: Broker
  crashDir?: string
  early: Failure[]
  m0: number
}

/** Run one case; never throws (everything wrong is a failure in the result). */
export async function runRound (c: FuzzCase, opts: RoundOptions = {}): Promise<RoundResult> {
  const t0 = Date.now()
  const checkMemory = opts.checkMemory ?? true
  const ctx: Ctx = {
    c,
    opts,
    dir: c.persistence === 'file' ? await mkdtemp(join(tmpdir(), 'hearth-fuzz-')) : undefined,
    mem: c.persistence === 'memory' ? new MemoryPersistence() : undefined,
    early: [],
    m0: 0,
  }
  const fail = (kind: string, detail: string): void => {
    if (ctx.round !== undefined) ctx.round.fail(kind, detail)
    else ctx.early.push({ kind, detail })
  }
  const unguard = guardProcess(fail)
  try {
    if (checkMemory) { gc(); ctx.m0 = memory() }
    await roundBody(ctx, fail)
  } catch (err) {
    fail('driver', (err as Error).stack ?? String(err))
  } finally {
    for (const s of ctx.round?.streams ?? []) s.destroy()
    if (ctx.broker2 !== undefined) await ctx.broker2.close().catch(() => undefined)
    if (ctx.round !== undefined) await ctx.round.broker.close().catch(() => undefined)
    if (ctx.round?.extra !== undefined) await ctx.round.extra.close().catch(() => undefined)
    // Let late callbacks of this round land while its guard is still in place.
    await sleep(5)
    unguard()
    if (ctx.dir !== undefined) await rm(ctx.dir, { recursive: true, force: true }).catch(() => undefined)
    if (ctx.dir !== undefined) await rm(`${ctx.dir}-crash`, { recursive: true, force: true }).catch(() => undefined)
  }
  let memoryAfter = 0
  if (checkMemory) { gc(); memoryAfter = memory() }
  return {
    failures: ctx.round?.failures ?? ctx.early,
    ms: Date.now() - t0,
    bytes: caseBytes(c),
    packets: c.clients.reduce((n, cl) => n + cl.packets.length, 0),
    memoryAfter,
    received: ctx.round?.received ?? {},
  }
}

async function roundBody (ctx: Ctx, fail: (kind: string, detail: string) => void): Promise<void> {
  const { c, opts, dir, mem } = ctx
  const sink = { fail }
  const broker = createBroker({ ...c.broker, persistence: persistenceFor(c, dir, mem, sink, 'first broker'), ...opts.extra })
  const r = ctx.round = new Round(c, broker)
  r.failures.push(...ctx.early)
  r.watch(broker, 'first broker')
  await within(broker.ready, 15000, 'first broker ready')
  r.port = (await broker.listen({ port: 0, host: '127.0.0.1' })).port
  const waves = new Map<number, Array<[ClientScript, number]>>()
  c.clients.forEach((cl, i) => { if (!waves.has(cl.wave)) waves.set(cl.wave, []); waves.get(cl.wave)?.push([cl, i]) })
  const runWaves = async (): Promise<void> => {
    for (const w of [...waves.keys()].sort((a, b) => a - b)) {
      await Promise.all((waves.get(w) ?? []).map(([cl, i]) => r.client(cl, i)))
      if (opts.failFast && r.failures.length > 0) break
    }
  }
  const copy = dir !== undefined && c.crashCopyMs !== undefined ? sleep(c.crashCopyMs).then(() => crashCopy(dir)) : Promise.resolve(undefined)
  let closedEarly = false
  if (c.closeEarlyMs === undefined) await runWaves()
  else {
    // Close with clients still at work: close() must end them and flush whatever they left.
    const running = runWaves()
    await sleep(c.closeEarlyMs)
    closedEarly = await closeBroker(r, broker, 'first broker (closed early)')
    await running
    if (!closedEarly) return
  }
  ctx.crashDir = await copy
  const leak = await waitReleased(broker, 'after the fuzz clients')
  if (leak !== null) r.fail('connection-leak', leak)
  for (const p of consistency(broker)) r.fail('inconsistent', `after the fuzz clients: ${p}`)
  if (opts.checkMemory ?? true) {
    gc()
    const grown = memory() - ctx.m0
    const bound = MEMORY_SLACK + MEMORY_PER_BYTE * caseBytes(c)
    if (grown > bound) r.fail('memory', `memory grew by ${(grown / 1048576).toFixed(1)} MiB during the round (bound ${(bound / 1048576).toFixed(1)} MiB)`)
  }
  if (opts.failFast && r.failures.length > 0) return
  if (!closedEarly) {
    try { await probe(broker, r.port, c.broker) } catch (err) { r.fail('not-routing', `after the fuzz: ${(err as Error).message}`) }
    const leak2 = await waitReleased(broker, 'after the probe')
    if (leak2 !== null) r.fail('connection-leak', leak2)
    if (!await closeBroker(r, broker, 'first broker')) return
  }
  // What the closed broker holds is what it saved: nothing may change after close().
  const before = snapshot(broker)
  // A new broker on the same persistence: it loads, restores the same state and routes.
  const broker2 = ctx.broker2 = createBroker({ ...c.broker, persistence: persistenceFor(c, dir, mem, r, 'restarted broker'), ...opts.extra })
  r.watch(broker2, 'restarted broker')
  try {
    await within(broker2.ready, 15000, 'restarted broker ready')
  } catch (err) {
    r.fail('restart', `the restarted broker did not load: ${(err as Error).message}`)
    return
  }
  for (const p of consistency(broker2)) r.fail('inconsistent', `after the restart: ${p}`)
  const diff = diffSnapshots(before, snapshot(broker2))
  if (diff.length > 0) r.fail('restart-state', `the restart restored a different state:\n  ${diff.slice(0, 8).join('\n  ')}`)
  const port2 = (await broker2.listen({ port: 0, host: '127.0.0.1' })).port
  try { await probe(broker2, port2, c.broker) } catch (err) { r.fail('not-routing', `after the restart: ${(err as Error).message}`) }
  await closeBroker(r, broker2, 'restarted broker')
  ctx.broker2 = undefined
  if (ctx.crashDir !== undefined) await openCrashCopy(r, c, ctx.crashDir, opts)
}

/** Copy the live persistence directory, as a crash would leave it (files read while being written). */
async function crashCopy (dir: string): Promise<string | undefined> {
  const to = `${dir}-crash`
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await rm(to, { recursive: true, force: true })
      await cp(dir, to, { recursive: true })
      return to
    } catch { /* a file went away during a compaction: copy again */ }
  }
  return undefined
}

/** A broker on the crash image: it loads (recovering a torn tail is fine, with a warning), is consistent and routes. */
async function openCrashCopy (r: Round, c: FuzzCase, dir: string, opts: RoundOptions): Promise<void> {
  const label = 'broker on a crash image'
  const persistence = new FilePersistence({
    dir,
    syncMode: c.syncMode,
    compactThreshold: c.compactThreshold,
    onWarning: m => { if (!RECOVERY_WARNING.test(m)) r.fail('persistence-warning', `${label}: ${m}`) },
  })
  const b = r.extra = createBroker({ ...c.broker, persistence, ...opts.extra })
  r.watch(b, label)
  try {
    await within(b.ready, 15000, `${label} ready`)
  } catch (err) {
    r.fail('crash-restart', `the ${label} did not load: ${(err as Error).message}`)
    return
  }
  for (const p of consistency(b)) r.fail('inconsistent', `${label}: ${p}`)
  const port = (await b.listen({ port: 0, host: '127.0.0.1' })).port
  try { await probe(b, port, c.broker) } catch (err) { r.fail('not-routing', `${label}: ${(err as Error).message}`) }
  await closeBroker(r, b, label)
}

/** What FilePersistence says when it drops a torn or corrupt tail (test/broker/20-persistence-file.spec.ts). */
const RECOVERY_WARNING = /^FilePersistence: .*: .*\. Kept the \d+ valid records before it/
