// `npm run mutation [-- stryker options]`: Stryker on the MQTT core (stryker.config.mjs; results
// and the equivalent-mutant list in docs/mutation.md). Not part of `npm test`. A file group alone:
//   npm run mutation -- --mutate 'src/broker/topics.ts,src/broker/topic-tree.ts'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const compat = resolve('test', 'mutation', 'mocha12-compat.cjs')
const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(compat)}`.trim() }
const stryker = join('node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js')
const r = spawnSync(process.execPath, [stryker, 'run', ...process.argv.slice(2)], { stdio: 'inherit', env })
compactIncremental('test/mutation/stryker-incremental.json')
process.exit(r.status ?? 1)

// The incremental file is committed. Stryker writes every mutant's full list of covering tests
// (hundreds of ids each: 10 MB for the core). A killed mutant is reused when a test that killed it
// still covers it (Stryker counts its killedBy as coverage), so its coveredBy is dropped; survivors
// and timeouts keep theirs (they are reused only when no new test covers them). Written on one line.
function compactIncremental (file) {
  if (!existsSync(file)) return
  const report = JSON.parse(readFileSync(file, 'utf8'))
  for (const { mutants } of Object.values(report.files)) {
    for (const m of mutants) {
      if (m.status !== 'Killed') continue
      delete m.coveredBy
      if (typeof m.statusReason === 'string' && m.statusReason.length > 200) m.statusReason = m.statusReason.slice(0, 200)
    }
  }
  writeFileSync(file, JSON.stringify(report) + '\n')
}
