// The build output Node-RED's loader reads: nodes/<type>.{js,html}, locales, icons; and no node
// bundle carries its own copy of the broker core.
import assert from 'node:assert/strict'
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
      assert.match(html, new RegExp(`<script type="text/html" data-help-name="${type}">`))
      assert.match(read(`nodes/locales/en-US/${type}.html`), new RegExp(`data-help-name="${type}"`))
      assert.ok(JSON.parse(read(`nodes/locales/en-US/${type}.json`))[type])
      const js = read(file)
      // The core is loaded from dist/broker, never bundled in: none of its internals appear here.
      assert.doesNotMatch(js, /mqtt-packet|class BrokerCore|function runConnect/)
    })
  }

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
