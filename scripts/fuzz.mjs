// Long fuzz runs of the broker: `npm run fuzz -- --seconds 600 --seed N` (options in test/fuzz/cli.ts).
// Runs the TypeScript fuzzer through tsx with the garbage collector exposed for the memory checks.
import { spawnSync } from 'node:child_process'

const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/fuzz/cli.ts', ...process.argv.slice(2)], { stdio: 'inherit' })
process.exit(r.status ?? 1)
