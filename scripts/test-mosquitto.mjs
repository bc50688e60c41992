// `npm run test:mosquitto`: the broker protocol specs (test/broker, test/conformance) against a
// real Mosquitto 2.0.11 instead of Hearth, to prove the tests (see docs/mosquitto-deviations.md).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const args = ['--no-config', '-r', 'tsx/cjs', '--extension', 'ts', '--timeout', '20000', '--reporter', 'dot',
  'test/broker/*.spec.ts', 'test/conformance/*.spec.ts', ...process.argv.slice(2)]
const r = spawnSync(process.execPath, [join('scripts', 'test.mjs'), ...args], {
  stdio: 'inherit',
  env: { ...process.env, HEARTH_BROKER_TARGET: 'mosquitto' },
})
process.exit(r.status ?? 1)
