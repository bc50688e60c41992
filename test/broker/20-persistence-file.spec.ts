/**
 * FilePersistence beyond the shared suite: recovery from truncated and corrupted files, purging
 * of expired state at open, compaction, group commit, the periodic mode, locking, and repair
 * after a failed write.
 *
 * The recovery tests build a store one mutation per sync, recording the file size after each
 * (a record boundary) and the expected state (from MemoryPersistence fed the same mutations).
 * A file cut at offset X must then open with the state of the last boundary <= X, and warn
 * unless X is itself a boundary (a clean cut there is indistinguishable from a shorter log).
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import { mkdtemp, rm, readdir, copyFile, stat, truncate, readFile, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryPersistence, type Persistence, type PersistedState, type StoredMessage } from '../../src/broker/persistence'
import { FilePersistence, type FilePersistenceOptions } from '../../src/broker/persistence-file'
import { REC, MAGIC } from '../../src/broker/persistence-file/codec'
import { RecordBuffer } from '../../src/broker/persistence-file/record-buffer'
import { canonical, rng } from '../conformance/persistence.suite'

const dirs: string[] = []
async function tempDir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'hearth-pf-'))
  dirs.push(d)
  return d
}

async function logFiles (dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(n => n.endsWith('.log')).sort()
}

async function theLog (dir: string): Promise<string> {
  const files = await logFiles(dir)
  assert.equal(files.length, 1, `expected one log file in ${dir}, found ${files.join(', ')}`)
  return join(dir, files[0])
}

interface Opened { p: FilePersistence, state: PersistedState, warnings: string[] }

async function openStore (dir: string, extra: Partial<FilePersistenceOptions> = {}): Promise<Opened> {
  const warnings: string[] = []
  const p = new FilePersistence({ dir, onWarning: m => warnings.push(m), ...extra })
  const state = await p.open()
  return { p, state, warnings }
}

function msg (topic: string, payload: Buffer | string, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 1, retain: true, ...extra }
}

/** One random mutation, applied to both stores. */
function randomStep (rand: () => number, i: number, stores: Persistence[]): void {
  const r = rand()
  const id = `client-${Math.floor(rand() * 3)}`
  const apply = (f: (p: Persistence) => void): void => { for (const s of stores) f(s) }
  if (r < 0.35) {
    const payload = Buffer.alloc(rand() < 0.1 ? 5000 : Math.floor(rand() * 200))
    for (let j = 0; j < payload.length; j++) payload[j] = Math.floor(rand() * 256)
    const m = msg(`t/${Math.floor(rand() * 12)}`, payload, rand() < 0.3 ? { properties: { correlationData: Buffer.from([i & 255]), userProperties: { step: String(i) } } } : {})
    apply(p => p.setRetained(m))
  } else if (r < 0.45) {
    const t = `t/${Math.floor(rand() * 12)}`
    apply(p => p.deleteRetained(t))
  } else if (r < 0.55) {
    apply(p => p.saveSession({ clientId: id, protocolVersion: 5, expiryInterval: 0xFFFFFFFF, subscriptions: [{ topic: `s/${i}`, qos: 1 }] }))
  } else if (r < 0.75) {
    apply(p => p.addOutgoing(id, { seq: i, state: 'queued', qos: 1, retain: false, message: msg(`o/${i}`, `payload ${i}`, { retain: false }) }))
  } else if (r < 0.82) {
    const seq = Math.floor(rand() * i)
    apply(p => p.updateOutgoing(id, seq, 1 + (i % 65535), 'sent'))
  } else if (r < 0.88) {
    const seq = Math.floor(rand() * i)
    apply(p => p.removeOutgoing(id, seq))
  } else if (r < 0.94) {
    const pid = 1 + Math.floor(rand() * 30)
    apply(p => p.addIncoming(id, pid))
  } else if (r < 0.97) {
    const pid = 1 + Math.floor(rand() * 30)
    apply(p => p.removeIncoming(id, pid))
  } else {
    apply(p => p.deleteSession(id))
  }
}

interface Boundary { size: number, state: PersistedState }

/** A store built one synced mutation at a time; returns its log file and every record boundary. */
async function buildStore (seed: number, steps: number): Promise<{ file: string, boundaries: Boundary[] }> {
  const dir = await tempDir()
  const { p } = await openStore(dir)
  const file = await theLog(dir)
  const mem = new MemoryPersistence()
  await mem.open()
  const boundaries: Boundary[] = [{ size: (await stat(file)).size, state: await mem.open() }]
  const rand = rng(seed)
  for (let i = 1; i <= steps; i++) {
    randomStep(rand, i, [p, mem])
    await p.sync()
    boundaries.push({ size: (await stat(file)).size, state: await mem.open() })
  }
  await p.close()
  return { file, boundaries }
}

/** The state after steps 1..`steps` of `seed` without step `skip` (whose records were damaged). */
async function stateWithout (seed: number, steps: number, skip: number): Promise<PersistedState> {
  const mem = new MemoryPersistence()
  await mem.open()
  const rand = rng(seed)
  for (let i = 1; i <= steps; i++) randomStep(rand, i, i === skip ? [] : [mem])
  return await mem.open()
}

/** The step whose records hold byte `at` (0: the header). */
function stepAt (boundaries: Boundary[], at: number): number {
  let k = 0
  while (k < boundaries.length && boundaries[k].size <= at) k++
  return k
}

/** The expected state for a file whose bytes from `offset` on are missing or bad. */
function expectedAt (boundaries: Boundary[], offset: number): PersistedState {
  let best: PersistedState = { retained: [], sessions: [] }
  for (const b of boundaries) if (b.size <= offset) best = b.state
  return best
}

async function copyTo (file: string): Promise<{ dir: string, file: string }> {
  const dir = await tempDir()
  const target = join(dir, 'hearth-1.log')
  await copyFile(file, target)
  return { dir, file: target }
}

describe('FilePersistence (file store)', function () {
  this.timeout(60000)

  after(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }) })

  describe('recovery', () => {
    let store: { file: string, boundaries: Boundary[] }
    before(async () => { store = await buildStore(0xC0FFEE, 120) })

    it('a file cut at any offset opens with the good prefix, warns unless cut on a record boundary, and takes clean appends', async () => {
      const size = store.boundaries[store.boundaries.length - 1].size
      const rand = rng(42)
      const headerEnd = store.boundaries[0].size
      const cuts = new Set<number>([0, 1, 7, 8, headerEnd - 1, headerEnd, headerEnd + 1, size - 1])
      for (const b of store.boundaries.slice(1, 6)) { cuts.add(b.size); cuts.add(b.size + 3) }
      while (cuts.size < 70) cuts.add(Math.floor(rand() * size))
      const atBoundary = new Set(store.boundaries.map(b => b.size))
      for (const cut of [...cuts].sort((a, b) => a - b)) {
        const c = await copyTo(store.file)
        await truncate(c.file, cut)
        const o = await openStore(c.dir)
        const expected = expectedAt(store.boundaries, cut)
        assert.deepEqual(canonical(o.state), canonical(expected), `cut at ${cut}`)
        if (atBoundary.has(cut)) assert.deepEqual(o.warnings, [], `cut at boundary ${cut}`)
        else {
          assert.equal(o.warnings.length, 1, `cut at ${cut} must warn once`)
          assert.match(o.warnings[0], /truncated|invalid record length|empty file/)
        }
        // The bad tail is gone: an append after recovery is read back, without a warning.
        o.p.setRetained(msg('after/recovery', String(cut)))
        await o.p.close()
        const again = await openStore(c.dir)
        assert.deepEqual(again.warnings, [], `reopen after cut at ${cut}`)
        const expectedAfter = { ...expected, retained: [...expected.retained.filter(m => m.topic !== 'after/recovery'), msg('after/recovery', String(cut))] }
        assert.deepEqual(canonical(again.state), canonical(expectedAfter), `appended after cut at ${cut}`)
        await again.p.close()
        await rm(c.dir, { recursive: true, force: true })
      }
    })

    it('a flipped bit in any record sets that record aside in a side file, keeps every valid record after it, and rewrites the log without it', async () => {
      const original = await readFile(store.file)
      const headerEnd = store.boundaries[0].size
      const rand = rng(7)
      const offsets = new Set<number>([0, 3, 5, 9, headerEnd - 1, original.length - 1])
      // Each field of a few records: length, header check, checksum, type, body.
      for (const k of [1, 2, 40, 80]) for (const d of [0, 2, 4, 7, 8, 11, 12, 13, 20]) offsets.add(store.boundaries[k - 1].size + d)
      while (offsets.size < 100) offsets.add(Math.floor(rand() * original.length))
      for (const at of [...offsets].filter(x => x < original.length).sort((a, b) => a - b)) {
        const c = await copyTo(store.file)
        const bytes = Buffer.from(original)
        bytes[at] ^= 1 << Math.floor(rand() * 8)
        await writeFile(c.file, bytes)
        const o = await openStore(c.dir)
        const k = stepAt(store.boundaries, at)
        const expected = k === 0 ? store.boundaries[store.boundaries.length - 1].state : await stateWithout(0xC0FFEE, 120, k)
        assert.deepEqual(canonical(o.state), canonical(expected), `bit flipped at ${at} (step ${k})`)
        assert.equal(o.warnings.length, 1, `bit flipped at ${at} must warn once`)
        const m = /damaged bytes \(at (\d+)–(\d+)\) were set aside in (\S+hearth-1\.damaged-\S+)$/.exec(o.warnings[0].split('; kept')[0])
        assert.ok(m, `warning names the range and the side file: ${o.warnings[0]}`)
        const [from, to, side] = [Number(m[1]), Number(m[2]), m[3]]
        assert.ok(from <= at && at < to, `the range ${from}–${to} holds byte ${at}`)
        if (k > 0) assert.ok(from >= store.boundaries[k - 1].size && to <= store.boundaries[k].size, `the range ${from}–${to} lies within step ${k}`)
        assert.deepEqual(await readFile(side), bytes.subarray(from, to), 'the side file holds the damaged bytes')
        assert.equal((await stat(side)).mode & 0o777, 0o600)
        if (to < original.length) {
          assert.deepEqual((await readdir(c.dir)).filter(n => n.endsWith('.log')), ['hearth-2.log'], 'the log was rewritten without the damage')
        } else { // damage in the last record: nothing valid after it, the log is cut before it
          assert.deepEqual((await readdir(c.dir)).filter(n => n.endsWith('.log')), ['hearth-1.log'])
          assert.equal((await stat(c.file)).size, from)
        }
        o.p.setRetained(msg('after/recovery', String(at)))
        await o.p.close()
        const again = await openStore(c.dir)
        assert.deepEqual(again.warnings, [], `reopen after a flip at ${at}`)
        assert.deepEqual(canonical(again.state), canonical({ ...expected, retained: [...expected.retained.filter(x => x.topic !== 'after/recovery'), msg('after/recovery', String(at))] }))
        await again.p.close()
        await rm(c.dir, { recursive: true, force: true })
      }
    })

    it('damage in several places: each damaged record is set aside, everything else is kept', async () => {
      const original = await readFile(store.file)
      const b = store.boundaries
      const steps = [10, 11, 57, 119].filter(k => b[k].size > b[k - 1].size)
      const bytes = Buffer.from(original)
      // The first record of each step, hit in its length field: the next record is found again by scanning.
      const hit = steps.map(k => original.subarray(b[k - 1].size, b[k - 1].size + 12 + original.readUInt32LE(b[k - 1].size)))
      for (const k of steps) bytes[b[k - 1].size + 1] ^= 0x40
      const c = await copyTo(store.file)
      await writeFile(c.file, bytes)
      const o = await openStore(c.dir)
      const mem = new MemoryPersistence()
      await mem.open()
      const rand = rng(0xC0FFEE)
      for (let i = 1; i <= 120; i++) randomStep(rand, i, steps.includes(i) ? [] : [mem])
      assert.deepEqual(canonical(o.state), canonical(await mem.open()))
      assert.equal(o.warnings.length, 1)
      const sides = (await readdir(c.dir)).filter(n => n.includes('.damaged-'))
      assert.equal(sides.length, 1)
      const aside = await readFile(join(c.dir, sides[0]))
      assert.equal(aside.length, hit.reduce((n, x) => n + x.length, 0))
      let pos = 0
      for (const [i, r] of hit.entries()) {
        const got = aside.subarray(pos, pos + r.length)
        assert.deepEqual(got.subarray(2), r.subarray(2), `record ${i} set aside whole`)
        assert.equal(got[1], r[1] ^ 0x40)
        pos += r.length
      }
      await o.p.close()
    })

    it('a zero-filled or garbage tail (power loss after the size grew) is dropped with a warning', async () => {
      const full = store.boundaries[store.boundaries.length - 1]
      const rand = rng(99)
      const garbage = Buffer.alloc(777)
      for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(rand() * 256)
      // A plausible length header promising more bytes than there are.
      const shortRecord = Buffer.from([50, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, REC.MESSAGE, 0])
      for (const tail of [Buffer.alloc(4096), garbage, shortRecord]) {
        const c = await copyTo(store.file)
        await appendFile(c.file, tail)
        const o = await openStore(c.dir)
        assert.deepEqual(canonical(o.state), canonical(full.state))
        assert.equal(o.warnings.length, 1)
        assert.equal((await stat(c.file)).size, full.size)
        await o.p.close()
      }
    })

    it('a well-formed record of an unknown type is set aside', async () => {
      const c = await copyTo(store.file)
      const w = new RecordBuffer()
      w.begin(99)
      w.str('from the future')
      w.end()
      await appendFile(c.file, w.take() as Buffer)
      const o = await openStore(c.dir)
      assert.match(o.warnings.join('\n'), /unknown record type 99/)
      assert.deepEqual(canonical(o.state), canonical(store.boundaries[store.boundaries.length - 1].state))
      await o.p.close()
    })

    it('a file from a newer format version is refused, not truncated', async () => {
      const dir = await tempDir()
      const w = new RecordBuffer()
      w.begin(REC.HEADER, true)
      w.ensure(MAGIC.length)
      w.len += w.buf.write(MAGIC, w.len, 'latin1')
      w.u32(3)
      w.f64(1)
      w.f64(Date.now())
      w.end()
      const file = join(dir, 'hearth-1.log')
      await writeFile(file, Buffer.concat([w.take() as Buffer, Buffer.from('rest of a v2 file')]))
      const before = (await stat(file)).size
      const p = new FilePersistence({ dir, onWarning: () => {} })
      await assert.rejects(p.open(), /format version 3/)
      assert.equal((await stat(file)).size, before)
      assert.deepEqual((await readdir(dir)).sort(), ['hearth-1.log']) // and the lock was released
    })

    it('leftovers of an interrupted compaction are cleaned up: a .tmp is deleted, an older generation superseded', async () => {
      const dir = await tempDir()
      const newest = store.boundaries[store.boundaries.length - 1]
      await copyFile(store.file, join(dir, 'hearth-3.log'))
      await writeFile(join(dir, 'hearth-2.log'), 'an older generation, never read')
      await writeFile(join(dir, 'hearth-4.log.tmp'), 'a compaction that did not finish')
      const o = await openStore(dir)
      assert.deepEqual(o.warnings, [])
      assert.deepEqual(canonical(o.state), canonical(newest.state))
      assert.deepEqual((await readdir(dir)).sort(), ['hearth-3.log', 'hearth.lock'])
      await o.p.close()
    })
  })

  describe('expiry at open', () => {
    it('purges expired sessions, expired retained messages and expired queued messages, and keeps the rest', async () => {
      const dir = await tempDir()
      const now = Date.now()
      const o = await openStore(dir)
      const p = o.p
      const sess = (clientId: string, expiryInterval: number, disconnectedAt?: number): void =>
        p.saveSession({ clientId, protocolVersion: 5, expiryInterval, disconnectedAt, subscriptions: [] })
      sess('expired', 5, now - 6000)
      sess('zero-expiry', 0, now - 1)
      sess('alive', 3600, now - 6000)
      sess('never', 0xFFFFFFFF, now - 365 * 86400000)
      sess('connected-at-crash', 1) // no disconnectedAt: the broker decides when it restarts
      p.addOutgoing('expired', { seq: 1, state: 'queued', qos: 1, retain: false, message: msg('x', 'x') })
      p.addOutgoing('alive', { seq: 1, state: 'queued', qos: 1, retain: false, message: msg('q/old', 'x', { expiresAt: now - 1 }) })
      p.addOutgoing('alive', { seq: 2, state: 'sent', packetId: 9, qos: 1, retain: false, message: msg('q/started', 'x', { expiresAt: now - 1 }) }) // [MQTT-3.3.2-5] delivery started: kept
      p.addOutgoing('alive', { seq: 3, state: 'queued', qos: 1, retain: false, message: msg('q/fresh', 'x', { expiresAt: now + 3600000 }) })
      p.addOutgoing('alive', { seq: 4, state: 'queued', qos: 1, retain: false, message: msg('q/no-expiry', 'x') })
      p.setRetained(msg('r/old', 'x', { expiresAt: now - 1 }))
      p.setRetained(msg('r/fresh', 'x', { expiresAt: now + 3600000 }))
      p.setRetained(msg('r/forever', 'x'))
      await p.close()
      for (let round = 0; round < 2; round++) { // the purge itself is persisted
        const r = await openStore(dir)
        assert.deepEqual(r.warnings, [])
        assert.deepEqual(r.state.sessions.map(s => s.clientId).sort(), ['alive', 'connected-at-crash', 'never'])
        assert.deepEqual(r.state.sessions.find(s => s.clientId === 'alive')?.outgoing.map(x => x.seq), [2, 3, 4])
        assert.deepEqual(r.state.retained.map(m => m.topic).sort(), ['r/forever', 'r/fresh'])
        await r.p.close()
      }
    })
  })

  describe('compaction', () => {
    it('keeps the file bounded under endless overwrites, in one file, with the latest state', async () => {
      const dir = await tempDir()
      const threshold = 64 * 1024
      const { p } = await openStore(dir, { compactThreshold: threshold })
      let maxSize = 0
      for (let i = 0; i < 30000; i++) {
        p.setRetained(msg(`k/${i % 50}`, Buffer.alloc(40, i & 255)))
        if (i % 100 === 99) { await p.sync(); maxSize = Math.max(maxSize, p.stats().fileBytes) }
      }
      await p.sync()
      const st = p.stats()
      assert.ok(st.compactions >= 5, `compactions: ${st.compactions}`)
      assert.ok(maxSize < 4 * threshold, `file grew to ${maxSize} bytes`)
      await p.close()
      const files = await readdir(dir)
      assert.equal(files.filter(n => n.endsWith('.log')).length, 1)
      assert.equal(files.filter(n => n.endsWith('.tmp')).length, 0)
      const r = await openStore(dir)
      assert.deepEqual(r.warnings, [])
      assert.equal(r.state.retained.length, 50)
      for (const m of r.state.retained) {
        const k = Number(m.topic.slice(2))
        assert.ok(m.payload.equals(Buffer.alloc(40, (29950 + k) & 255)), m.topic)
      }
      await r.p.close()
    })

    it('runs alongside mutations and syncs: every sync settles and nothing made during the compaction is lost', async () => {
      const dir = await tempDir()
      const { p } = await openStore(dir, { compactThreshold: 256 * 1024, compactRatio: 1.5 })
      const expected = new Map<string, number>()
      for (let i = 0; i < 3000; i++) { p.setRetained(msg(`big/${i}`, Buffer.alloc(1000, 1))); expected.set(`big/${i}`, 1) } // ~3 MB live
      await p.sync()
      // Overwrites push the file past 1.5x the live state; mutations continue while it compacts.
      const syncs: Array<Promise<void>> = []
      let rounds = 0
      const sessions: string[] = []
      for (let round = 0; round < 40 || (p.stats().compactions === 0 && round < 1000); round++) {
        rounds++
        for (let i = 0; i < 100; i++) {
          const t = `big/${(round * 100 + i * 29) % 3000}`
          p.setRetained(msg(t, Buffer.alloc(1000, round + 2)))
          expected.set(t, (round + 2) & 255)
        }
        p.saveSession({ clientId: `s${round}`, protocolVersion: 4, expiryInterval: 0xFFFFFFFF, subscriptions: [] })
        p.addOutgoing(`s${round}`, { seq: 1, state: 'queued', qos: 1, retain: false, message: msg('q', String(round)) })
        if (round % 3 === 0) p.deleteSession(`s${round}`)
        else sessions.push(`s${round}`)
        const s = p.sync()
        if (s !== undefined) syncs.push(s)
        await new Promise(resolve => setImmediate(resolve))
      }
      await Promise.all(syncs)
      assert.ok(p.stats().compactions >= 1, `no compaction finished in ${rounds} rounds`)
      await p.close()
      const r = await openStore(dir)
      assert.deepEqual(r.warnings, [])
      assert.equal(r.state.retained.length, 3000)
      for (const m of r.state.retained) assert.equal(m.payload[0], expected.get(m.topic), m.topic)
      assert.deepEqual(r.state.sessions.map(s => s.clientId).sort(), sessions.sort())
      for (const s of r.state.sessions) assert.equal(s.outgoing.length, 1)
      await r.p.close()
    })
    it('close() during a compaction abandons it cleanly: no .tmp left, one log, nothing lost', async () => {
      const dir = await tempDir()
      const { p, warnings } = await openStore(dir, { compactThreshold: 1024 * 1024, compactRatio: 0.5 })
      for (let i = 0; i < 3000; i++) p.setRetained(msg(`a/${i}`, Buffer.alloc(1000, 3)))
      await p.sync() // the file is past the threshold: a compaction starts right after this flush
      const compacting = (p as unknown as { compaction: Promise<void> | null }).compaction !== null
      p.setRetained(msg('a/last', 'made during the compaction'))
      await p.close()
      assert.ok(compacting, 'a compaction was running at close()')
      assert.deepEqual(warnings, [])
      const files = (await readdir(dir)).sort()
      assert.equal(files.filter(n => n.endsWith('.tmp')).length, 0, files.join(', '))
      assert.equal(files.filter(n => n.endsWith('.log')).length, 1, files.join(', '))
      const r = await openStore(dir)
      assert.deepEqual(r.warnings, [])
      assert.equal(r.state.retained.length, 3001)
      await r.p.close()
    })

    it('changes made while closed are ignored with one warning; sync() returns undefined', async () => {
      const dir = await tempDir()
      const o = await openStore(dir)
      await o.p.close()
      o.p.setRetained(msg('late', 'x'))
      o.p.saveSession({ clientId: 'late', protocolVersion: 5, expiryInterval: 10, subscriptions: [] })
      assert.equal(o.p.sync(), undefined)
      assert.equal(o.warnings.length, 1)
      assert.match(o.warnings[0], /not open/)
      const st = await o.p.open()
      assert.deepEqual(st, { retained: [], sessions: [] })
      await o.p.close()
    })
  })

  describe('group commit and sync modes', () => {
    it('one fdatasync covers every change made while the previous one ran', async () => {
      const dir = await tempDir()
      const { p } = await openStore(dir)
      const burst: Array<Promise<void> | undefined> = []
      for (let i = 0; i < 2000; i++) { p.setRetained(msg(`b/${i}`, 'x')); burst.push(p.sync()) }
      assert.ok(burst.every(x => x instanceof Promise))
      await Promise.all(burst)
      assert.ok(p.stats().syncs <= 2, `a burst of 2000 took ${p.stats().syncs} fdatasyncs`)
      // 50 producers, each waiting for its own sync before its next change (like QoS 1 clients).
      const before = p.stats().syncs
      await Promise.all(Array.from({ length: 50 }, async (_, c) => {
        for (let i = 0; i < 20; i++) { p.setRetained(msg(`c/${c}`, String(i))); await p.sync() }
      }))
      const used = p.stats().syncs - before
      assert.ok(used <= 200, `1000 acknowledged changes from 50 producers took ${used} fdatasyncs`)
      assert.equal(p.sync(), undefined)
      await p.close()
    })

    it("'periodic' mode: sync() waits for the write to reach the file but not for an fdatasync, which follows within flushInterval", async () => {
      const dir = await tempDir()
      const { p } = await openStore(dir, { syncMode: 'periodic', flushInterval: 250 })
      const file = await theLog(dir)
      const start = (await stat(file)).size
      const syncs = p.stats().syncs
      p.setRetained(msg('p/1', 'x'))
      const wait = p.sync()
      assert.ok(wait instanceof Promise, 'an acknowledgement waits for the write (a crash of the process loses nothing acknowledged)')
      await wait
      assert.ok((await stat(file)).size > start, 'in the file once sync() resolves')
      assert.equal(p.stats().syncs, syncs, 'without waiting for an fdatasync')
      assert.equal(p.sync(), undefined, 'nothing left to write')
      const deadline = Date.now() + 3000
      while (p.stats().syncs === syncs && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
      assert.ok(p.stats().syncs > syncs, 'the timer ran an fdatasync')
      await p.close()
    })
  })

  describe('directory, lock and failures', () => {
    it('an unusable directory rejects open() with a message naming it', async () => {
      const dir = await tempDir()
      const notADir = join(dir, 'a-file')
      await writeFile(notADir, 'x')
      const p = new FilePersistence({ dir: join(notADir, 'store') })
      await assert.rejects(p.open(), (err: Error & { code?: string }) => err.code === 'HEARTH_STORE_UNUSABLE' && err.message.includes(join(notADir, 'store')) && /cannot use directory/.test(err.message))
      assert.throws(() => new FilePersistence({ dir: '' }), /dir is required/)
    })

    it('refuses a directory already open in this process, and reopens after close()', async () => {
      const dir = await tempDir()
      const a = await openStore(dir)
      await assert.rejects(new FilePersistence({ dir }).open(), (err: Error & { code?: string }) => err.code === 'HEARTH_STORE_BUSY' && /already open in this process/.test(err.message))
      await assert.rejects(a.p.open(), /already open/)
      await a.p.close()
      const b = await openStore(dir)
      await b.p.close()
    })

    it('takes over the lock of a dead process, refuses the lock of a live one', async () => {
      const dir = await tempDir()
      const dead = spawnSync(process.execPath, ['-e', '0'])
      await writeFile(join(dir, 'hearth.lock'), `${dead.pid}\n`)
      const a = await openStore(dir)
      await a.p.close()
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
      try {
        await new Promise(resolve => child.once('spawn', resolve))
        await writeFile(join(dir, 'hearth.lock'), `${child.pid}\n`)
        await assert.rejects(new FilePersistence({ dir }).open(), (err: Error & { code?: string }) => err.code === 'HEARTH_STORE_BUSY' && new RegExp(`in use by process ${child.pid}`).test(err.message))
      } finally {
        child.kill('SIGKILL')
        await new Promise(resolve => child.once('exit', resolve))
      }
    })

    it('after a failed write it rewrites the store from memory; waiting syncs settle and nothing is lost', async () => {
      const dir = await tempDir()
      const o = await openStore(dir)
      const p = o.p
      for (let i = 0; i < 100; i++) p.setRetained(msg(`f/${i}`, String(i)))
      await p.sync()
      // Fault injection: swap the log's descriptor for a read-only one, so the next write fails (EBADF).
      const internals = p as unknown as { fd: number }
      const realFd = internals.fd
      internals.fd = fs.openSync(await theLog(dir), 'r')
      try {
        p.setRetained(msg('f/after-failure', 'y'))
        p.deleteRetained('f/0')
        await p.sync()
        assert.match(o.warnings.join('\n'), /failed.*rewriting it from memory/)
        assert.ok(p.stats().generation >= 2, 'a new generation was written')
        p.setRetained(msg('f/after-repair', 'z'))
        await p.sync()
      } finally { fs.closeSync(realFd) }
      await p.close()
      const r = await openStore(dir)
      assert.deepEqual(r.warnings, [])
      const topics = r.state.retained.map(m => m.topic)
      assert.equal(topics.length, 101)
      assert.ok(topics.includes('f/after-failure') && topics.includes('f/after-repair') && !topics.includes('f/0'))
      await r.p.close()
    })
  })
})
