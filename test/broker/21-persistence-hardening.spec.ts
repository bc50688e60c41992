/**
 * FilePersistence hardening: each message stored once however many sessions owe it, subscription
 * changes as single records, the bounds on the live state and on the unwritten buffer, file and
 * folder modes, reading (and upgrading) a store written by the previous format, and the lock
 * when two processes start together after a crash.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import { createInterface } from 'node:readline'
import { mkdtemp, rm, readdir, stat, readFile, writeFile, mkdir, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StoredMessage, StoredOutgoing } from '../../src/broker/persistence'
import { FilePersistence, type FilePersistenceOptions } from '../../src/broker/persistence-file'
import { canonical, clean } from '../conformance/persistence.suite'
import { pollUntil } from '../helpers/wait'

const REPO_ROOT = join(__dirname, '..', '..')
const dirs: string[] = []
async function tempDir (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'hearth-pfh-'))
  dirs.push(d)
  return d
}

interface Opened { p: FilePersistence, warnings: string[], state: Awaited<ReturnType<FilePersistence['open']>> }

async function openStore (dir: string, extra: Partial<FilePersistenceOptions> = {}): Promise<Opened> {
  const warnings: string[] = []
  const p = new FilePersistence({ dir, onWarning: m => warnings.push(m), ...extra })
  const state = await p.open()
  return { p, warnings, state }
}

function msg (topic: string, payload: Buffer | string, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 1, retain: false, ...extra }
}

function queued (seq: number, message: StoredMessage): StoredOutgoing {
  return { seq, state: 'queued', qos: 1, retain: false, message }
}

/** Run a compaction now and wait for it (internals: compactions otherwise start on size ratios). */
async function compactNow (p: FilePersistence): Promise<void> {
  const internals = p as unknown as { startCompaction (): void, compaction: Promise<void> | null }
  internals.startCompaction()
  await internals.compaction
}

async function mode (path: string): Promise<number> { return (await stat(path)).mode & 0o777 }

describe('FilePersistence hardening', function () {
  this.timeout(120000)
  after(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }) })

  describe('each message stored once', () => {
    it('a 100 KB message owed to 500 sessions is written once; the sessions write a small record each, and a compaction writes it once too', async () => {
      const dir = await tempDir()
      const { p, warnings } = await openStore(dir, { compactThreshold: 1 << 30 })
      for (let i = 0; i < 500; i++) p.saveSession({ clientId: `s${i}`, protocolVersion: 4, expiryInterval: 0xFFFFFFFF })
      await p.sync()
      const before = p.stats().fileBytes
      const big = msg('fan/out', Buffer.alloc(100 * 1024, 0x5a), { qos: 2, properties: { contentType: 'x' } })
      for (let i = 0; i < 500; i++) assert.equal(p.addOutgoing(`s${i}`, { ...queued(1, big), qos: i % 2 === 0 ? 1 : 2 }), true)
      await p.sync()
      const grew = p.stats().fileBytes - before
      assert.equal(p.stats().messages, 1)
      assert.ok(grew > 100 * 1024 && grew < 100 * 1024 + 500 * 64, `the log grew by ${grew} bytes`)
      await compactNow(p)
      const compacted = p.stats().fileBytes
      assert.ok(compacted < 100 * 1024 + 500 * 100, `the compacted log holds ${compacted} bytes`)
      await p.close()
      assert.deepEqual(warnings, [])
      const r = await openStore(dir)
      assert.equal(r.state.sessions.length, 500)
      const first = r.state.sessions[0].outgoing[0].message
      assert.deepEqual(clean(first), clean(big))
      for (const s of r.state.sessions) {
        assert.equal(s.outgoing.length, 1)
        assert.equal(s.outgoing[0].message, first, 'one object for every session')
        assert.equal(s.outgoing[0].qos, Number(s.clientId.slice(1)) % 2 === 0 ? 1 : 2)
      }
      await r.p.close()
    })

    it('a message stays while any session owes it and goes with the last one; compaction then drops it', async () => {
      const dir = await tempDir()
      const { p } = await openStore(dir, { compactThreshold: 1 << 30 })
      const m = msg('q', Buffer.alloc(50000, 1))
      for (let i = 0; i < 3; i++) { p.saveSession({ clientId: `s${i}`, protocolVersion: 5, expiryInterval: 60 }); p.addOutgoing(`s${i}`, queued(1, m)) }
      p.setRetained({ ...m, topic: 'other' }) // another object: another message
      assert.equal(p.stats().messages, 2)
      p.removeOutgoing('s0', 1)
      p.deleteSession('s1')
      assert.equal(p.stats().messages, 2)
      p.removeOutgoing('s2', 1)
      assert.equal(p.stats().messages, 1)
      await compactNow(p)
      assert.ok(p.stats().fileBytes < 50000 + 1000, `compacted to ${p.stats().fileBytes} bytes: the released message is gone`)
      await p.close()
    })
  })

  it('a subscription change is one small record: 5,000 subscriptions one by one grow the log linearly', async () => {
    const dir = await tempDir()
    const { p } = await openStore(dir, { compactThreshold: 1 << 30 })
    p.saveSession({ clientId: 'many', protocolVersion: 5, expiryInterval: 0xFFFFFFFF })
    await p.sync()
    const sizes: number[] = [p.stats().fileBytes]
    for (let i = 0; i < 5000; i++) {
      p.addSubscription('many', { topic: `site/${i}/+/state`, qos: 1, subscriptionIdentifier: i + 1 })
      if (i % 1000 === 999) { await p.sync(); sizes.push(p.stats().fileBytes) }
    }
    const steps = sizes.slice(1).map((s, i) => s - sizes[i])
    for (const d of steps) assert.ok(d < 1000 * 64, `1000 subscriptions took ${d} bytes`)
    assert.ok(Math.max(...steps) - Math.min(...steps) < 1000 * 4, `the 5th thousand costs what the 1st did: ${steps.join(', ')}`)
    for (let i = 0; i < 5000; i += 2) p.removeSubscription('many', `site/${i}/+/state`)
    p.saveSession({ clientId: 'many', protocolVersion: 5, expiryInterval: 60, disconnectedAt: Date.now() }) // metadata only
    await p.close()
    const r = await openStore(dir)
    const s = r.state.sessions[0]
    assert.equal(s.expiryInterval, 60)
    assert.equal(s.subscriptions.length, 2500)
    assert.deepEqual(clean(s.subscriptions.find(x => x.topic === 'site/4999/+/state')), { topic: 'site/4999/+/state', qos: 1, subscriptionIdentifier: 5000 })
    await r.p.close()
  })

  describe('bounds', () => {
    it('maxStoreBytes: past it retained messages, queued messages and subscriptions are refused (counted, one warning); removals go on; room made is usable again', async () => {
      const dir = await tempDir()
      const { p, warnings } = await openStore(dir, { maxStoreBytes: 64 * 1024, compactThreshold: 16 * 1024, maxPendingBytes: 64 * 1024 })
      p.saveSession({ clientId: 'c', protocolVersion: 5, expiryInterval: 60 })
      let admitted = 0
      while (p.setRetained(msg(`r/${admitted}`, Buffer.alloc(1000, 1), { retain: true }))) admitted++
      assert.ok(admitted > 50 && admitted < 64, `${admitted} retained messages of 1000 bytes fit in 64 KiB`)
      assert.equal(p.addOutgoing('c', queued(1, msg('q', Buffer.alloc(1000)))), false)
      assert.equal(p.addSubscription('c', { topic: 'x/'.repeat(600), qos: 1 }), false)
      assert.equal(p.stats().refused, 3)
      assert.equal(warnings.length, 1)
      assert.match(warnings[0], /is full: the live state would pass maxStoreBytes \(65536 bytes\)/)
      assert.ok(p.stats().liveBytes <= 64 * 1024)
      // Replacing a retained message at the bound is admitted: it frees what it takes.
      assert.equal(p.setRetained(msg('r/0', Buffer.alloc(1000, 9), { retain: true })), true)
      for (let i = 1; i < 6; i++) p.deleteRetained(`r/${i}`)
      assert.equal(p.setRetained(msg('r/new', Buffer.alloc(1000, 2), { retain: true })), true)
      // Churn at the bound: the folder stays within (max(2, compactRatio) + 2) × maxStoreBytes + compactThreshold + maxPendingBytes.
      let biggest = 0
      for (let i = 0; i < 3000; i++) {
        p.setRetained(msg(`r/${10 + (i % 40)}`, Buffer.alloc(1000, i & 255), { retain: true }))
        if (i % 50 === 0) { await p.sync(); biggest = Math.max(biggest, await folderBytes(dir)) }
      }
      // Compactions run in the background: how many finish during the churn depends on the machine's load.
      assert.ok(p.stats().compactions >= 1, 'the churn compacted the log')
      assert.ok(biggest <= 4 * 64 * 1024 + 16 * 1024 + 64 * 1024, `the folder reached ${biggest} bytes`)
      await p.close()
      const r = await openStore(dir)
      assert.equal(r.state.retained.length, admitted - 5 + 1)
      assert.deepEqual(r.warnings, [])
      await r.p.close()
    })

    it('a log that is not compacted (compaction failing) stops growing at (max(2, compactRatio) + 1) × maxStoreBytes + compactThreshold: additions are refused', async () => {
      const dir = await tempDir()
      const { p, warnings } = await openStore(dir, { maxStoreBytes: 64 * 1024, compactThreshold: 16 * 1024 })
      ;(p as unknown as { startCompaction (): void }).startCompaction = () => {} // no compaction ever completes
      let refusedAt = -1
      for (let i = 0; i < 1000 && refusedAt < 0; i++) {
        if (!p.setRetained(msg(`k/${i % 20}`, Buffer.alloc(1000, i & 255), { retain: true }))) refusedAt = i
        await p.sync()
      }
      const limit = 3 * 64 * 1024 + 16 * 1024
      assert.ok(refusedAt > 0, 'additions are refused once the log passed the limit')
      assert.ok(p.stats().fileBytes >= limit && p.stats().fileBytes < limit + 2000, `stopped at ${p.stats().fileBytes} bytes`)
      assert.match(warnings.join('\n'), /the log has grown to \d+ bytes without a compaction/)
      p.deleteRetained('k/0') // removals still go in
      await p.close()
      const r = await openStore(dir)
      assert.equal(r.state.retained.length, 19)
      await r.p.close()
    })

    it('maxPendingBytes: a burst larger than the unwritten-buffer bound is refused past it, and admitted again once written', async () => {
      const dir = await tempDir()
      const { p, warnings } = await openStore(dir, { maxPendingBytes: 32 * 1024 })
      let admitted = 0
      for (let i = 0; i < 200; i++) if (p.setRetained(msg(`b/${i}`, Buffer.alloc(1000, 3), { retain: true }))) admitted++
      assert.ok(admitted >= 30 && admitted <= 34, `${admitted} of 200 admitted into a 32 KiB buffer`)
      assert.equal(p.stats().refused, 200 - admitted)
      assert.match(warnings.join('\n'), /bytes wait to be written \(maxPendingBytes 32768\)/)
      const wait = p.sync()
      assert.ok(wait instanceof Promise, 'sync() waits for the buffer to be written')
      await wait
      assert.equal(p.stats().pendingBytes, 0)
      assert.equal(p.setRetained(msg('b/after', 'x', { retain: true })), true)
      await p.close()
      const r = await openStore(dir)
      assert.equal(r.state.retained.length, admitted + 1)
      await r.p.close()
    })

    it('bounds must be positive numbers', () => {
      assert.throws(() => new FilePersistence({ dir: 'x', maxStoreBytes: 0 }), /maxStoreBytes must be a positive number/)
      assert.throws(() => new FilePersistence({ dir: 'x', maxPendingBytes: -1 }), /maxPendingBytes must be a positive number/)
    })
  })

  describe('modes', () => {
    it('a folder it creates is 0700 and every file 0600 (log, lock, compacted log, side file); an existing folder keeps its mode; an old 0644 log is narrowed', async () => {
      const base = await tempDir()
      const dir = join(base, 'new', 'store')
      const { p } = await openStore(dir, { compactThreshold: 1 << 30 })
      assert.equal(await mode(dir), 0o700)
      assert.equal(await mode(join(dir, 'hearth-1.log')), 0o600)
      assert.equal(await mode(join(dir, 'hearth.lock')), 0o600)
      p.setRetained(msg('a', 'b', { retain: true }))
      await compactNow(p)
      assert.equal(await mode(join(dir, 'hearth-2.log')), 0o600)
      await p.close()
      // A folder the user made keeps its mode; a log left world-readable by an older version is narrowed.
      const own = join(base, 'users-folder')
      await mkdir(own)
      await chmod(own, 0o755)
      const first = await openStore(own)
      first.p.setRetained(msg('kept', 'x', { retain: true }))
      await first.p.close()
      await chmod(join(own, 'hearth-1.log'), 0o644)
      const q = await openStore(own)
      assert.equal(q.state.retained.length, 1)
      assert.equal(await mode(own), 0o755)
      assert.deepEqual((await readdir(own)).sort(), ['hearth-1.log', 'hearth.lock'])
      for (const n of await readdir(own)) assert.equal(await mode(join(own, n)), 0o600, n)
      await q.p.close()
      // A side file.
      const bad = join(base, 'damaged')
      await mkdir(bad)
      const log = Buffer.from(V1_STORE)
      log[60] ^= 0xff
      await writeFile(join(bad, 'hearth-1.log'), log)
      const d = await openStore(bad)
      const side = (await readdir(bad)).filter(n => n.includes('.damaged-'))
      assert.equal(side.length, 1)
      assert.equal(await mode(join(bad, side[0])), 0o600)
      await d.p.close()
    })
  })

  it('a store written by the previous version (format 1) is read whole and rewritten in format 2', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'hearth-1.log'), V1_STORE)
    const { p, state, warnings } = await openStore(dir)
    assert.deepEqual(warnings, [])
    assert.deepEqual(canonical(state), canonical(V1_STATE))
    assert.deepEqual((await readdir(dir)).filter(n => n.endsWith('.log')), ['hearth-2.log'])
    await p.close()
    const again = await openStore(dir)
    assert.deepEqual(again.warnings, [])
    assert.deepEqual(canonical(again.state), canonical(V1_STATE))
    const header = await readFile(join(dir, 'hearth-2.log'))
    assert.equal(header.readUInt32LE(8 + 1 + 8), 2, 'format version 2 in the header')
    await again.p.close()
  })

  describe('lock', () => {
    let workers: Worker[] = []
    afterEach(async () => { for (const w of workers.splice(0)) await w.stop() })

    it('the lock file holds the process id, boot id and start time; on a filesystem without hard links it is still taken and taken over', async () => {
      const dir = await tempDir()
      const a = await openStore(dir)
      const lines = (await readFile(join(dir, 'hearth.lock'), 'utf8')).split('\n')
      assert.equal(lines[0], String(process.pid))
      assert.match(lines[1], /^[0-9a-f-]{36} \d+$/)
      await a.p.close()
      const realLink = fs.promises.link
      fs.promises.link = async () => { throw Object.assign(new Error('operation not permitted'), { code: 'EPERM' }) }
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
      try {
        const b = await openStore(dir) // no lock: created
        assert.equal((await readFile(join(dir, 'hearth.lock'), 'utf8')).split('\n')[0], String(process.pid))
        await b.p.close()
        await writeFile(join(dir, 'hearth.lock'), `${spawnSync(process.execPath, ['-e', '0']).pid}\n`)
        const c = await openStore(dir) // a stale lock: taken over
        assert.equal((await readFile(join(dir, 'hearth.lock'), 'utf8')).split('\n')[0], String(process.pid))
        await c.p.close()
        await writeFile(join(dir, 'hearth.lock'), `${child.pid}\n`)
        await assert.rejects(new FilePersistence({ dir }).open(), new RegExp(`in use by process ${child.pid}`))
        assert.deepEqual((await readdir(dir)).filter(n => n.startsWith('hearth.lock')), ['hearth.lock'])
      } finally {
        fs.promises.link = realLink
        child.kill('SIGKILL')
      }
    })

    it('two processes opening together on a stale lock: exactly one gets it, the other is told which process holds it (100 rounds)', async function () {
      const dir = await tempDir()
      workers = await Promise.all([startWorker(dir), startWorker(dir)])
      const dead = spawnSync(process.execPath, ['-e', '0']).pid
      let won = [0, 0]
      for (let round = 0; round < 100; round++) {
        // A crashed broker's lock: a process id that no longer runs (in both formats, alternately).
        await writeFile(join(dir, 'hearth.lock'), round % 2 === 0 ? `${dead}\n` : `${dead}\n${'0'.repeat(32)} 1\n`)
        const first = round % 4 < 2 ? 0 : 1 // who is told first alternates
        const asked = [workers[first].ask('open'), workers[1 - first].ask('open')]
        const answers = first === 0 ? await Promise.all(asked) : (await Promise.all(asked)).reverse()
        const opened = answers.map(a => a === 'open')
        assert.equal(opened.filter(Boolean).length, 1, `round ${round}: ${answers.join(' / ')}`)
        const winner = opened.indexOf(true)
        won = won.map((n, i) => n + (i === winner ? 1 : 0))
        assert.match(answers[1 - winner], new RegExp(`^refused .*in use by process ${workers[winner].pid}\\b`))
        assert.equal(await workers[winner].ask('close'), 'closed')
        assert.deepEqual((await readdir(dir)).filter(n => n.startsWith('hearth.lock')), [], `round ${round}: nothing of the lock left`)
      }
      assert.ok(won[0] > 0 && won[1] > 0, `both processes won some rounds (${won.join(' / ')})`)
    })
  })
})

async function folderBytes (dir: string): Promise<number> {
  let n = 0
  for (const f of await readdir(dir)) n += (await stat(join(dir, f)).catch(() => ({ size: 0 }))).size
  return n
}

interface Worker { pid: number, ask (line: string): Promise<string>, stop (): Promise<void> }

/** A lock-worker child process (test/helpers/lock-worker.ts), once it has loaded. */
async function startWorker (dir: string): Promise<Worker> {
  const child: ChildProcess = spawn(process.execPath, ['-r', 'tsx/cjs', join(REPO_ROOT, 'test', 'helpers', 'lock-worker.ts'), dir], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: string[] = []
  const exited = new Promise(resolve => child.once('exit', resolve))
  createInterface({ input: child.stdout! }).on('line', l => lines.push(l))
  await pollUntil(() => lines.includes('ready'), 30000, 'the lock worker to load')
  lines.length = 0
  return {
    pid: child.pid!,
    async ask (line: string): Promise<string> {
      child.stdin!.write(line + '\n')
      const answer = await pollUntil(() => lines.shift(), 20000, `an answer to ${line}`, 1)
      return answer
    },
    async stop (): Promise<void> {
      child.stdin!.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    },
  }
}

/**
 * A store written by Hearth before format 2 (commit 00ccdaf): retained home/temp (with properties),
 * home/expiring, home/gone (deleted); session dev1 (MQTT 5, two subscriptions, outgoing 1 released
 * with packet id 10 and subscription identifier 7, outgoing 2 queued) and dev2 (3.1.1, outgoing 5
 * with 300 bytes and correlation data, incoming 33).
 */
const V1_STORE = Buffer.from(
  'HQAAAMUoYPgBSEVBUlRIUDEBAAAAAAAAAAAA8D8AkBjBeSN6Qk8AAAADxLnyAgkAAABob21lL3RlbXAEAAAAMjEuNRVICgAAAHRl' +
  'eHQvcGxhaW4CAAAABAAAAHVuaXQAAQAAAEMEAAAAdGFncwECAAAAAQAAAGEBAAAAYhQAAAB0zEydAgkAAABob21lL2dvbmUBAAAA' +
  'eAQiAAAAQylSAgINAAAAaG9tZS9leHBpcmluZwMAAAAAAQIOAADAHmbZjUIOAAAAHPinuQMJAAAAaG9tZS9nb25lRwAAAD/lFOQE' +
  'BAAAAGRldjEFAADg////70EBAACAVv68eEICAAAACgAAAGNtZC9kZXYxLyMCNwEHAAAADQAAACRzaGFyZS9nL2pvYnMBACUAAABq' +
  'mOmVBAQAAABkZXYyBAAA4P///+9BAAEAAAAIAAAAY21kL2RldjIBADMAAAAeC2KFBgQAAABkZXYxAAAAAAAA8D8BAwoAAQAAAAcA' +
  'AAAKAAAAY21kL2RldjEvYQMAAABvbmUCKQAAADsyfP0GBAAAAGRldjEAAAAAAAAAQAAACgAAAGNtZC9kZXYxL2IDAAAAdHdvBRUA' +
  'AABcFKj7BwQAAABkZXYxAAAAAAAA8D8CAQoAVwEAAM6w5c4GBAAAAGRldjIAAAAAAAAUQAAACAAAAGNtZC9kZXYyLAEAAAkJCQkJ' +
  'CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJ' +
  'CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJ' +
  'CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJ' +
  'CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCREgAgAA' +
  'AAECCwAAAMpVElwJBAAAAGRldjIhAA==', 'base64')

const V1_STATE = {
  retained: [
    msg('home/temp', '21.5', { qos: 1, retain: true, properties: { contentType: 'text/plain', userProperties: { unit: 'C', tags: ['a', 'b'] } } }),
    msg('home/expiring', Buffer.from([0, 1, 2]), { qos: 2, retain: true, expiresAt: 4102444800000 }),
  ],
  sessions: [
    {
      clientId: 'dev1', protocolVersion: 5 as const, expiryInterval: 0xFFFFFFFF, disconnectedAt: 1700000000000,
      subscriptions: [{ topic: 'cmd/dev1/#', qos: 2 as const, nl: true, rap: false, rh: 1 as const, subscriptionIdentifier: 7 }, { topic: '$share/g/jobs', qos: 1 as const }],
      outgoing: [
        { seq: 1, state: 'released' as const, packetId: 10, qos: 2 as const, retain: false, message: msg('cmd/dev1/a', 'one', { qos: 2 }), subscriptionIdentifiers: [7] },
        { seq: 2, state: 'queued' as const, qos: 1 as const, retain: true, message: msg('cmd/dev1/b', 'two', { qos: 1, retain: true }) },
      ],
      incoming: [],
    },
    {
      clientId: 'dev2', protocolVersion: 4 as const, expiryInterval: 0xFFFFFFFF,
      subscriptions: [{ topic: 'cmd/dev2', qos: 1 as const }],
      outgoing: [{ seq: 5, state: 'queued' as const, qos: 1 as const, retain: false, message: msg('cmd/dev2', Buffer.alloc(300, 9), { properties: { correlationData: Buffer.from([1, 2]) } }) }],
      incoming: [33],
    },
  ],
}
