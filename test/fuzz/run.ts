/**
 * The fuzz loop: round after round (seed, seed + 1, ...) until the time or round budget is spent,
 * with progress figures, memory watched across rounds, and every new failure signature shrunk to
 * a minimal case that is printed and saved as JSON for replay.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildCase, caseToJson, DEFAULT_LIMITS, type FuzzCase } from './case'
import { runRound, type Failure } from './driver'
import { shrink, signature } from './shrink'
import { describeCase } from './report'
import { memory } from './checks'

/**
 * Failures already reported, each with the regression test that pins it. While one is open the
 * loop counts it without shrinking it again, so a long run keeps looking for new ones.
 */
const KNOWN: Array<{ name: string, test: string, match: RegExp, explains?: RegExp }> = [
]

export interface FuzzOptions {
  /** Stop after this many seconds (default: no time limit). */
  seconds?: number
  /** Stop after this many rounds (default: no round limit). */
  rounds?: number
  /** First seed; the following rounds use seed + 1, seed + 2, ... */
  seed: number
  /** Explicit seeds instead of seed, seed + 1, ... */
  seeds?: number[]
  /** Milliseconds of shrinking per new failure signature (0: no shrinking). */
  shrinkMs?: number
  /** Where to write minimised reproductions (JSON, replayable with --replay). */
  outDir?: string
  /** Report known failures as new ones. */
  showKnown?: boolean
  maxClients?: number
  /** Check memory (two full GCs) every this many rounds; default 10. */
  memoryEvery?: number
  log?: (line: string) => void
}

interface FoundFailure {
  seed: number
  signature: string
  failure: Failure
  known?: string
  minimal?: FuzzCase
  file?: string
}

export interface FuzzSummary {
  rounds: number
  packets: number
  bytes: number
  ms: number
  failures: FoundFailure[]
  /** Rounds that failed only in known ways. */
  knownRounds: number
}

const MEMORY_LEAK_BOUND = 128 * 1024 * 1024

/** The known bug behind `f`, if any; `round` are all failures of its round (a known bug explains some of its consequences). */
function knownFailure (f: Failure, round: Failure[] = [f]): string | undefined {
  const line = `${f.kind}: ${f.detail}`
  const direct = KNOWN.find(k => k.match.test(line))
  if (direct !== undefined) return direct.name
  return KNOWN.find(k => k.explains?.test(line) === true && round.some(g => k.match.test(`${g.kind}: ${g.detail}`)))?.name
}

export async function fuzz (opts: FuzzOptions): Promise<FuzzSummary> {
  const log = opts.log ?? (() => {})
  const t0 = Date.now()
  const deadline = opts.seconds !== undefined ? t0 + opts.seconds * 1000 : Infinity
  const maxRounds = opts.seeds?.length ?? opts.rounds ?? Infinity
  const limits = { ...DEFAULT_LIMITS, maxClients: opts.maxClients ?? DEFAULT_LIMITS.maxClients }
  const summary: FuzzSummary = { rounds: 0, packets: 0, bytes: 0, ms: 0, failures: [], knownRounds: 0 }
  const seen = new Set<string>()
  let baseline = 0
  let lastReport = t0
  let lastRounds = 0
  while (summary.rounds < maxRounds && Date.now() < deadline) {
    const seed = opts.seeds?.[summary.rounds] ?? ((opts.seed + summary.rounds) >>> 0)
    const c = buildCase(seed, limits)
    const memoryEvery = opts.memoryEvery ?? 10
    const r = await runRound(c, { checkMemory: summary.rounds % memoryEvery === 0 })
    summary.rounds++
    summary.packets += r.packets
    summary.bytes += r.bytes
    // Memory across rounds: whatever a closed broker leaves behind must not pile up.
    if (baseline === 0 && summary.rounds > 5 && r.memoryAfter > 0) baseline = r.memoryAfter
    if (baseline > 0 && r.memoryAfter > baseline + MEMORY_LEAK_BOUND) {
      r.failures.push({ kind: 'memory-leak', detail: `memory after round ${summary.rounds} is ${(r.memoryAfter / 1048576).toFixed(1)} MiB, ${((r.memoryAfter - baseline) / 1048576).toFixed(1)} MiB above the first measurement` })
      baseline = r.memoryAfter // report once per growth step
    }
    let onlyKnown = r.failures.length > 0
    for (const f of r.failures) {
      const known = opts.showKnown ? undefined : knownFailure(f, r.failures)
      if (known === undefined) onlyKnown = false
      const sig = signature(f)
      const key = `${known ?? ''}|${sig}`
      if (seen.has(key)) continue
      seen.add(key)
      const found: FoundFailure = { seed, signature: sig, failure: f, known }
      summary.failures.push(found)
      if (known !== undefined) { log(`seed ${seed}: known failure ${known}: ${sig}`); continue }
      log(`\nFAILURE seed ${seed} (replay: npm run fuzz -- --seed ${seed} --rounds 1)\n  ${f.kind}: ${f.detail.split('\n').join('\n  ')}`)
      if ((opts.shrinkMs ?? 0) > 0 && f.kind !== 'memory-leak') {
        const s = await shrink(c, sig, { budgetMs: opts.shrinkMs ?? 0 })
        if (!s.reproduced) log(`  (did not reproduce on replay: timing-dependent; ${s.trials} tries)`)
        else {
          found.minimal = s.case
          log(`  minimised in ${s.trials} rounds:\n${describeCase(s.case).split('\n').map(l => `    ${l}`).join('\n')}`)
          if (opts.outDir !== undefined) {
            mkdirSync(opts.outDir, { recursive: true })
            found.file = join(opts.outDir, `fuzz-repro-${seed}.json`)
            writeFileSync(found.file, caseToJson(s.case))
            log(`  saved: ${found.file} (replay: npm run fuzz -- --replay ${found.file})`)
          }
        }
      }
    }
    if (onlyKnown) summary.knownRounds++
    const now = Date.now()
    if (now - lastReport >= 10000) {
      const rate = (summary.rounds - lastRounds) / ((now - lastReport) / 1000)
      log(`${((now - t0) / 1000).toFixed(0)} s: ${summary.rounds} rounds (${rate.toFixed(1)}/s), ${summary.packets} packets ` +
        `(${(summary.packets / ((now - t0) / 1000)).toFixed(0)}/s), ${summary.failures.filter(f => f.known === undefined).length} new failure signatures, ` +
        `${summary.knownRounds} rounds with known failures only, memory ${(memory() / 1048576).toFixed(0)} MiB`)
      lastReport = now
      lastRounds = summary.rounds
    }
  }
  summary.ms = Date.now() - t0
  return summary
}
