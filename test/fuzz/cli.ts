/**
 * Long fuzz runs: `npm run fuzz -- --seconds 600 --seed N` (see scripts/fuzz.mjs).
 *   --seconds S      stop after S seconds (default 60)
 *   --rounds N       stop after N rounds
 *   --seed N         first seed (default: random, printed)
 *   --shrink S       seconds of shrinking per new failure (default 120)
 *   --out DIR        where minimised reproductions go (default test-artifacts/fuzz)
 *   --clients N      at most N clients per round (default 16)
 *   --show-known     treat known failures as new
 *   --replay FILE    run a saved case (JSON) once and print its failures
 * Exit status 1 when a new failure was found.
 */
import { readFileSync } from 'node:fs'
import { caseFromJson } from './case'
import { runRound } from './driver'
import { describeCase } from './report'
import { randomSeed } from './prng'
import { fuzz } from './run'

function arg (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const num = (name: string): number | undefined => { const v = arg(name); return v === undefined ? undefined : Number(v) }

async function main (): Promise<number> {
  const replay = arg('replay')
  if (replay !== undefined) {
    const c = caseFromJson(readFileSync(replay, 'utf8'))
    console.log(describeCase(c))
    const r = await runRound(c)
    for (const f of r.failures) console.log(`${f.kind}: ${f.detail}`)
    console.log(r.failures.length === 0 ? 'no failure' : `${r.failures.length} failures`)
    return r.failures.length === 0 ? 0 : 1
  }
  const seed = num('seed') ?? randomSeed()
  const rounds = num('rounds')
  const seconds = num('seconds') ?? (rounds === undefined ? 60 : undefined)
  console.log(`fuzz: seed ${seed}, ${seconds !== undefined ? `${seconds} s` : ''}${rounds !== undefined ? ` ${rounds} rounds` : ''}`)
  const s = await fuzz({
    seed,
    seconds,
    rounds,
    shrinkMs: (num('shrink') ?? 120) * 1000,
    outDir: arg('out') ?? 'test-artifacts/fuzz',
    showKnown: process.argv.includes('--show-known'),
    maxClients: num('clients'),
    log: line => console.log(line),
  })
  const fresh = s.failures.filter(f => f.known === undefined)
  console.log(`\nfuzz done: seeds ${seed}..${(seed + s.rounds - 1) >>> 0}, ${s.rounds} rounds in ${(s.ms / 1000).toFixed(0)} s ` +
    `(${(s.rounds / (s.ms / 1000)).toFixed(1)} rounds/s, ${(s.packets / (s.ms / 1000)).toFixed(0)} packets/s, ${s.packets} packets, ${(s.bytes / 1048576).toFixed(1)} MiB), ` +
    `${fresh.length} new failure signatures, ${s.knownRounds} rounds with known failures only`)
  for (const f of s.failures) console.log(`  seed ${f.seed}: ${f.known !== undefined ? `[known: ${f.known}] ` : ''}${f.signature}${f.file !== undefined ? ` -> ${f.file}` : ''}`)
  return fresh.length === 0 ? 0 : 1
}

main().then(code => { process.exitCode = code }, err => { console.error(err); process.exitCode = 2 })
