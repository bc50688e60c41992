// Build: the broker core and CLI into dist/, the Node-RED nodes into nodes/.
// esbuild transpiles; `npm run typecheck` (tsc --noEmit) is the type gate.
import { build } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { rmSync, mkdirSync, chmodSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join, sep } from 'node:path'

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

// The listeners (TCP, TLS, WebSocket) and the bridges: their own bundles, `ws` and `mqtt-packet`
// external (runtime dependencies) and the core loaded from dist/broker/index.js, never copied into them.
const core = join(root, 'src/broker')
await build({
  entryPoints: { 'listeners/index': join(root, 'src/listeners/index.ts'), 'bridge/index': join(root, 'src/bridge/index.ts') },
  outdir: dist,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [{
    name: 'hearth-core-external',
    setup (b) {
      b.onResolve({ filter: /broker/ }, (args) => {
        if (!args.path.startsWith('.')) return undefined
        const target = join(args.resolveDir, args.path)
        if (target === core || target === join(core, 'index') || target === join(core, 'index.ts')) return { path: '../broker/index.js', external: true }
        if (target.startsWith(core + sep)) return { errors: [{ text: `${args.importer}: import the core only through src/broker/index.ts` }] }
        return undefined
      })
    },
  }],
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
