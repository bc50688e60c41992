// Quick start on a fresh clone: `npm start` and `npm test` install the dependencies first when
// node_modules is missing or older than package-lock.json.
import { existsSync, statSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

const marker = 'node_modules/.package-lock.json'
const stale = !existsSync(marker) || (existsSync('package-lock.json') && statSync('package-lock.json').mtimeMs > statSync(marker).mtimeMs + 1000)
if (stale) {
  console.log('installing dependencies (npm ci)…')
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit', shell: process.platform === 'win32' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
