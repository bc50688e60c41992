// Build the Node-RED nodes: src/nodes/<type>/ -> nodes/<type>.{js,html}, nodes/locales/<lang>/<type>.{json,html}, nodes/icons/.
// The node type is the folder name; package.json#node-red.nodes must list exactly these types.
// Runtimes are CommonJS bundles that load the broker core from dist/broker/index.js (never a copy of it);
// editors are browser IIFEs wrapped with their form template, as Node-RED's loader expects. Help is shipped
// once, in nodes/locales/<lang>/<type>.html: Node-RED (4.1 and 5, @node-red/registry getNodeHelp) reads that
// file only when the node's .html carries no data-help-name script, so an inline copy would hide it.
import { build } from 'esbuild'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'

/** The node folders under src/nodes (everything but shared/). */
export function nodeTypes (root) {
  const dir = join(root, 'src/nodes')
  return readdirSync(dir).filter((name) => name !== 'shared' && statSync(join(dir, name)).isDirectory()).sort()
}

/** esbuild plugin: the core, the listeners and the bridges stay external, loaded from the built dist/broker, dist/listeners and dist/bridge. */
function coreExternal (root) {
  const core = join(root, 'src/broker')
  return {
    name: 'hearth-core-external',
    setup (b) {
      b.onResolve({ filter: /broker/ }, (args) => {
        if (!args.path.startsWith('.')) return undefined
        const target = resolve(args.resolveDir, args.path)
        if (target === core || target === join(core, 'index') || target === join(core, 'index.ts')) {
          return { path: '../dist/broker/index.js', external: true }
        }
        // The topic rules are pure functions with no state, shared with the editor bundle: bundled.
        if (target === join(core, 'topics') || target === join(core, 'topics.ts')) return undefined
        if (target.startsWith(core + sep)) {
          return { errors: [{ text: `${relative(root, args.importer)}: import the core only through src/broker/index.ts (or use "import type")` }] }
        }
        return undefined
      })
      // The listeners likewise: loaded from the built dist/listeners/index.js.
      const listeners = join(root, 'src/listeners')
      b.onResolve({ filter: /listeners/ }, (args) => {
        if (!args.path.startsWith('.')) return undefined
        const target = resolve(args.resolveDir, args.path)
        if (target === listeners || target === join(listeners, 'index') || target === join(listeners, 'index.ts')) {
          return { path: '../dist/listeners/index.js', external: true }
        }
        if (target.startsWith(listeners + sep)) {
          return { errors: [{ text: `${relative(root, args.importer)}: import the listeners only through src/listeners/index.ts (or use "import type")` }] }
        }
        return undefined
      })
      // The bridges likewise: loaded from the built dist/bridge/index.js.
      const bridge = join(root, 'src/bridge')
      b.onResolve({ filter: /bridge/ }, (args) => {
        if (!args.path.startsWith('.')) return undefined
        const target = resolve(args.resolveDir, args.path)
        if (target === bridge || target === join(bridge, 'index') || target === join(bridge, 'index.ts')) {
          return { path: '../dist/bridge/index.js', external: true }
        }
        if (target.startsWith(bridge + sep)) {
          return { errors: [{ text: `${relative(root, args.importer)}: import the bridges only through src/bridge/index.ts (or use "import type")` }] }
        }
        return undefined
      })
    },
  }
}

function wrapHelp (type, html) {
  return `<script type="text/html" data-help-name="${type}">\n${html.trim()}\n</script>\n`
}

async function buildRuntime (root, type, out) {
  await build({
    entryPoints: [join(root, 'src/nodes', type, 'runtime.ts')],
    outfile: join(out, `${type}.js`),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    plugins: [coreExternal(root)],
    banner: { js: `// ${type}: built from src/nodes/${type}/runtime.ts. Do not edit.` },
    logLevel: 'warning',
  })
}

async function buildEditor (root, type, out) {
  const src = join(root, 'src/nodes', type)
  const result = await build({
    entryPoints: [join(src, 'editor.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    target: 'es2019',
    format: 'iife',
    logLevel: 'warning',
  })
  const js = result.outputFiles[0].text
  if (/<\/script/i.test(js)) throw new Error(`${type}/editor.ts: the bundle contains "</script"`)
  const template = readFileSync(join(src, 'editor.html'), 'utf8')
  if (!existsSync(join(src, 'locales/en-US/help.html'))) throw new Error(`${type}/locales/en-US/help.html is missing`)
  const html = `<script type="text/javascript">\n${js}</script>\n\n` +
    `<script type="text/html" data-template-name="${type}">\n${template.trim()}\n</script>\n`
  writeFileSync(join(out, `${type}.html`), html)
}

function copyLocales (root, type, out) {
  const dir = join(root, 'src/nodes', type, 'locales')
  for (const lang of readdirSync(dir)) {
    const target = join(out, 'locales', lang)
    mkdirSync(target, { recursive: true })
    const messages = join(dir, lang, 'messages.json')
    if (existsSync(messages)) {
      const parsed = JSON.parse(readFileSync(messages, 'utf8'))
      if (!parsed[type]) throw new Error(`${type}/locales/${lang}/messages.json must have a top-level "${type}" key`)
      writeFileSync(join(target, `${type}.json`), JSON.stringify(parsed, null, 2) + '\n')
    }
    const help = join(dir, lang, 'help.html')
    if (existsSync(help)) writeFileSync(join(target, `${type}.html`), wrapHelp(type, readFileSync(help, 'utf8')))
  }
}

function copyIcons (root, out) {
  const src = join(root, 'icons')
  if (!existsSync(src)) return
  mkdirSync(join(out, 'icons'), { recursive: true })
  for (const f of readdirSync(src)) copyFileSync(join(src, f), join(out, 'icons', f))
}

export async function buildNodes (root) {
  const out = join(root, 'nodes')
  const types = nodeTypes(root)
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const declared = Object.keys(pkg['node-red']?.nodes ?? {}).sort()
  if (declared.join() !== types.join()) {
    throw new Error(`package.json node-red.nodes (${declared}) does not match src/nodes folders (${types})`)
  }
  for (const type of types) {
    if (pkg['node-red'].nodes[type] !== `nodes/${type}.js`) throw new Error(`package.json node-red.nodes.${type} must be nodes/${type}.js`)
  }
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  await Promise.all(types.map(async (type) => {
    await buildRuntime(root, type, out)
    await buildEditor(root, type, out)
    copyLocales(root, type, out)
  }))
  copyIcons(root, out)
}
