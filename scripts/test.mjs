// `npm test` runs mocha on the system Node (the oldest supported runtime), not on the Node 22
// that the `node` devDependency puts first on PATH inside npm scripts. End-to-end specs start
// Node-RED 4.1 on this Node and Node-RED 5 on the Node 22 binary themselves.
import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

function systemNode () {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir || dir.includes('node_modules')) continue
    const p = join(dir, 'node')
    try { accessSync(p, constants.X_OK); return p } catch { /* next */ }
  }
  return process.execPath
}

const node = systemNode()
const mocha = join(process.cwd(), 'node_modules', 'mocha', 'bin', 'mocha.js')
const r = spawnSync(node, [mocha, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, HEARTH_SYSTEM_NODE: node } })
process.exit(r.status ?? 1)
