// `npm run mutation [-- stryker options]`: Stryker on the MQTT core (stryker.config.mjs; results
// and the equivalent-mutant list in docs/mutation.md). Not part of `npm test`. A file group alone:
//   npm run mutation -- --mutate 'src/broker/topics.ts,src/broker/topic-tree.ts'
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'

const compat = resolve('test', 'mutation', 'mocha12-compat.cjs')
const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(compat)}`.trim() }
const stryker = join('node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js')
const r = spawnSync(process.execPath, [stryker, 'run', ...process.argv.slice(2)], { stdio: 'inherit', env })
process.exit(r.status ?? 1)
