// The build output Node-RED's loader reads: nodes/<type>.{js,html}, locales, icons; and no node
// bundle carries its own copy of the broker core.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'

const root = path.join(__dirname, '..', '..')
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } }
const read = (f: string): string => readFileSync(path.join(root, f), 'utf8')

describe('build output (nodes/)', function () {
  for (const [type, file] of Object.entries(pkg['node-red'].nodes)) {
    it(`${type}: runtime, editor script, form template, help, catalog`, function () {
      assert.equal(file, `nodes/${type}.js`)
      const html = read(`nodes/${type}.html`)
      assert.match(html, /RED\.nodes\.registerType\(/)
      assert.match(html, new RegExp(`TYPE\\d* = "${type}"`))
      assert.match(html, new RegExp(`<script type="text/html" data-template-name="${type}">`))
      // Help is shipped once, in the locale file: an inline copy would be the one Node-RED uses.
      assert.doesNotMatch(html, /data-help-name=/)
      assert.match(read(`nodes/locales/en-US/${type}.html`), new RegExp(`^<script type="text/html" data-help-name="${type}">`))
      assert.ok(JSON.parse(read(`nodes/locales/en-US/${type}.json`))[type])
      const js = read(file)
      // The core is loaded from dist/broker, never bundled in: none of its internals appear here.
      assert.doesNotMatch(js, /mqtt-packet|class BrokerCore|function runConnect/)
    })
  }

  for (const [version, registry] of [['4.1', 'node-red-4/node_modules/@node-red/registry'], ['5', '@node-red/registry']] as const) {
    it(`Node-RED ${version}'s own help loader finds each node's help (nodes/locales/en-US/<type>.html), also for another language`, function () {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's registry is CommonJS, loaded by path
      const loader = require(path.join(root, 'node_modules', registry, 'lib/loader.js')) as {
        getNodeHelp: (node: { template: string, module: string, help: Record<string, string> }, lang: string) => string | null
      }
      for (const type of Object.keys(pkg['node-red'].nodes)) {
        const want = read(`nodes/locales/en-US/${type}.html`)
        for (const lang of ['en-US', 'de']) {
          const node = { template: path.join(root, `nodes/${type}.html`), module: '@hearth/node-red-mqtt', help: {} }
          assert.equal(loader.getNodeHelp(node, lang), want, `${type} help for ${lang}`)
        }
      }
    })
  }

  it('the package ships the declarations package.json names in "types" (dist/broker/index.d.ts and what it imports)', function () {
    const types = (JSON.parse(read('package.json')) as { types: string }).types
    assert.equal(types, 'dist/broker/index.d.ts')
    assert.match(read(types), /export \{ Broker, createBroker/)
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    const files = new Set((JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>)[0].files.map(f => f.path))
    for (const f of [types, 'dist/broker/broker.d.ts', 'dist/broker/types.d.ts', 'dist/broker/auth.d.ts']) assert.ok(files.has(f), `${f} is in the package`)
  })

  it('the broker node requires the built core by a relative path', function () {
    assert.match(read('nodes/hearth-broker.js'), /require\("\.\.\/dist\/broker\/index\.js"\)/)
  })

  it('icons are where the loader looks for them (nodes/icons)', function () {
    for (const icon of ['hearth-broker.svg', 'hearth-publish.svg', 'hearth-subscribe.svg']) {
      assert.ok(existsSync(path.join(root, 'nodes/icons', icon)), icon)
      assert.ok(read(`nodes/${icon.replace('.svg', '')}.html`).includes(icon))
    }
  })
})
