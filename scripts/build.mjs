// Build: the broker core and CLI into dist/, the Node-RED nodes into nodes/.
// esbuild transpiles; `npm run typecheck` (tsc --noEmit) is the type gate.
import { build } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { rmSync, mkdirSync, chmodSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')

rmSync(dist, { recursive: true, force: true })
mkdirSync(dist, { recursive: true })

// The broker core: one CommonJS bundle, mqtt-packet left external (a runtime dependency).
await build({
  entryPoints: { 'broker/index': join(root, 'src/broker/index.ts'), 'cli/hearth-broker': join(root, 'src/cli/hearth-broker.ts') },
  outdir: dist,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
})

// Type declarations of the core for package users (package.json "types": dist/broker/index.d.ts).
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.types.json')], { stdio: 'inherit' })
if (tsc.status !== 0) throw new Error('tsc could not write the declarations (tsconfig.types.json)')

// The Node-RED nodes, when present.
const nodesBuild = join(root, 'scripts/build-nodes.mjs')
if (!process.env.HEARTH_SKIP_NODES) try {
  const { buildNodes } = await import(nodesBuild)
  await buildNodes(root)
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('build-nodes.mjs')) {
    // no node build yet
  } else throw err
}
chmodSync(join(root, 'bin/hearth-broker.js'), 0o755)
