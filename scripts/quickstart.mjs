// Quick start: Node-RED (the devDependency) at http://127.0.0.1:1880 with Hearth installed and an
// example flow deployed; the example's broker listens on port 1883.
//
//   npm start                    (HEARTH_UI_PORT=1881 npm start for another editor port)
//
// The userDir is .userdir/ in this repo (git-ignored). Hearth is linked into .userdir/node_modules,
// so a rebuild (npm run build) shows up on the next start. Delete .userdir/ to start over.
import { spawn } from 'node:child_process'
import { existsSync, copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync, lstatSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const userDir = join(root, '.userdir')
const uiPort = Number(process.env.HEARTH_UI_PORT ?? 1880)
const example = process.env.HEARTH_EXAMPLE ?? 'retained-light.json'

// Node-RED 5 needs Node 22: use the node@22 devDependency's binary when it is there.
const node22 = join(root, 'node_modules/node/bin/node')
const nodeBin = existsSync(node22) ? node22 : process.execPath
const redJs = join(root, 'node_modules/node-red/red.js')

if (!existsSync(join(root, 'nodes/hearth-broker.js')) || !existsSync(join(root, 'dist/broker/index.js'))) {
  console.log('building Hearth (npm run build)…')
  await import(join(root, 'scripts/build.mjs'))
}

mkdirSync(join(userDir, 'node_modules/@hearth'), { recursive: true })
const link = join(userDir, 'node_modules/@hearth/node-red-mqtt')
if (!existsSync(link)) {
  try { if (lstatSync(link).isSymbolicLink()) rmSync(link) } catch { /* no stale link */ }
  symlinkSync(root, link, 'dir')
}
writeFileSync(join(userDir, 'package.json'), JSON.stringify({
  name: 'hearth-quickstart', private: true, version: '0.0.1', dependencies: { '@hearth/node-red-mqtt': 'file:..' },
}, null, 2) + '\n')
writeFileSync(join(userDir, 'settings.js'), `// Written by scripts/quickstart.mjs
module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${uiPort},
  flowFile: 'flows.json',
  credentialSecret: 'hearth-quickstart',
  // No online palette catalogue: the quick start works offline.
  editorTheme: { palette: { catalogues: [] }, tours: false },
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
}
`)
const flows = join(userDir, 'flows.json')
if (!existsSync(flows)) {
  copyFileSync(join(root, 'examples', example), flows)
  console.log(`deployed examples/${example}: its broker listens on port 1883`)
}

console.log(`Node-RED ${redJs.includes('node-red-4') ? '4' : '5'} with Hearth: http://127.0.0.1:${uiPort} (Ctrl-C to stop)`)
const child = spawn(nodeBin, [redJs, '--settings', join(userDir, 'settings.js'), '--userDir', userDir], { stdio: 'inherit', cwd: userDir })
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)))
