/**
 * Measures FilePersistence at scale; not a mocha spec. Run:
 *   /usr/bin/node --expose-gc --import tsx test/crash/persistence-figures.ts [dir]
 * Prints: write and open time for 100k retained topics + 1k sessions (each with subscriptions,
 * queued messages and QoS 2 state), RSS/heap after open (in a fresh child process), compaction
 * time, and sync() throughput with group commit for 1, 10, 100 and 1000 concurrent producers.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FilePersistence } from '../../src/broker/persistence-file'

const RETAINED = 100_000
const SESSIONS = 1_000
const QUEUED_PER_SESSION = 10

function mb (n: number): string { return (n / 1048576).toFixed(1) + ' MiB' }
function gc (): void { (globalThis as { gc?: () => void }).gc?.() }

async function populate (dir: string): Promise<void> {
  const p = new FilePersistence({ dir })
  await p.open()
  const t0 = performance.now()
  const payload = Buffer.alloc(64)
  for (let i = 0; i < RETAINED; i++) {
    payload.writeUInt32LE(i, 0)
    p.setRetained({
      topic: `site/${i % 100}/device/${i}/temperature`,
      payload: Buffer.from(payload),
      qos: 1,
      retain: true,
      properties: i % 10 === 0 ? { contentType: 'application/json', userProperties: { unit: 'C' } } : undefined,
    })
  }
  for (let s = 0; s < SESSIONS; s++) {
    const clientId = `client-${s}`
    p.saveSession({ clientId, protocolVersion: 5, expiryInterval: 0xFFFFFFFF, disconnectedAt: Date.now(),
      subscriptions: Array.from({ length: 5 }, (_, k) => ({ topic: `site/${(s + k) % 100}/#`, qos: 1 as const })) })
    for (let q = 0; q < QUEUED_PER_SESSION; q++) {
      p.addOutgoing(clientId, { seq: q, state: 'queued', qos: 1, retain: false, message: { topic: `site/${s % 100}/device/${q}/temperature`, payload: Buffer.alloc(64, q), qos: 1, retain: false } })
    }
    p.addIncoming(clientId, 1 + (s % 100))
  }
  await p.sync()
  const t1 = performance.now()
  console.log(`populate: ${RETAINED} retained + ${SESSIONS} sessions x (5 subs, ${QUEUED_PER_SESSION} queued, 1 incoming) in ${(t1 - t0).toFixed(0)} ms`)
  await p.close()
  const files = readdirSync(dir).filter(n => n.endsWith('.log'))
  console.log(`log file: ${files.join(', ')} ${mb(statSync(join(dir, files[0])).size)}`)
}

/** Child process: open the store and report time and memory. */
async function openChild (dir: string): Promise<void> {
  gc()
  const base = process.memoryUsage()
  const p = new FilePersistence({ dir })
  const t0 = performance.now()
  const state = await p.open()
  const t1 = performance.now()
  gc()
  const after = process.memoryUsage()
  console.log(`open: ${(t1 - t0).toFixed(0)} ms, ${state.retained.length} retained, ${state.sessions.length} sessions, ` +
    `${state.sessions.reduce((n, s) => n + s.outgoing.length, 0)} queued`)
  console.log(`memory: RSS ${mb(base.rss)} before -> ${mb(after.rss)} after open (+${mb(after.rss - base.rss)}); ` +
    `heap ${mb(base.heapUsed)} -> ${mb(after.heapUsed)}; external+buffers ${mb(after.external + after.arrayBuffers)} ` +
    `(the broker's copy of the state returned by open() is included)`)
  // Force a compaction of the full state and time it.
  const stats0 = p.stats()
  const t2 = performance.now()
  const internals = p as unknown as { startCompaction: () => void, compaction: Promise<void> | null }
  internals.startCompaction()
  await internals.compaction
  console.log(`compaction of the full state: ${(performance.now() - t2).toFixed(0)} ms (${mb(stats0.fileBytes)} -> ${mb(p.stats().fileBytes)})`)
  await p.close()
}

async function throughput (dir: string): Promise<void> {
  for (const mode of ['always', 'periodic'] as const) {
    for (const producers of [1, 10, 100, 1000]) {
      const d = mkdtempSync(join(dir, 'tp-'))
      const p = new FilePersistence({ dir: d, syncMode: mode })
      await p.open()
      const perProducer = Math.max(20, Math.floor((mode === 'always' && producers === 1 ? 2000 : 50000) / producers))
      const payload = Buffer.alloc(100, 7)
      const t0 = performance.now()
      await Promise.all(Array.from({ length: producers }, async (_, c) => {
        for (let i = 0; i < perProducer; i++) {
          p.setRetained({ topic: `tp/${c}/${i % 10}`, payload, qos: 1, retain: true })
          await p.sync()
        }
      }))
      const ms = performance.now() - t0
      const total = producers * perProducer
      const s = p.stats()
      console.log(`sync ${mode.padEnd(8)} ${String(producers).padStart(4)} producers: ${Math.round(total / ms * 1000).toString().padStart(7)} acknowledged writes/s, ` +
        `${s.syncs} fdatasyncs for ${total} writes (${(total / Math.max(1, s.syncs)).toFixed(1)} per fsync)`)
      await p.close()
      rmSync(d, { recursive: true, force: true })
    }
  }
}

async function main (): Promise<void> {
  if (process.argv[2] === '--open-child') { await openChild(process.argv[3]); return }
  const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'hearth-figures-'))
  const store = join(dir, 'store')
  try {
    await populate(store)
    for (let i = 0; i < 2; i++) {
      const r = spawnSync(process.execPath, [...process.execArgv, __filename, '--open-child', store], { encoding: 'utf8' })
      process.stdout.write(r.stdout + r.stderr)
    }
    await throughput(dir)
  } finally {
    if (process.argv[2] === undefined) rmSync(dir, { recursive: true, force: true })
  }
}

main().catch(err => { console.error(err); process.exitCode = 1 })
