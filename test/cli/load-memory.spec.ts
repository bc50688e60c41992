// The CLI gives back the young generation that loading a large stored state grew (src/cli/load-memory.ts): the real
// CLI process on Node 22 (the node@22 devDependency) restarts on 60,000 stored retained messages, and V8's own heap
// figures, read inside it once it serves, show the young generation back at its starting size.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createBroker, FilePersistence } from '../../src/broker'

const ROOT = join(__dirname, '..', '..')
const NODE22 = join(ROOT, 'node_modules', 'node', 'bin', 'node')
const BIN = join(ROOT, 'bin', 'hearth-broker.js')
const BUILT = join(ROOT, 'dist', 'cli', 'hearth-broker.js')
const RETAINED = 60000

// Preloaded into the CLI: once it prints its listening line, report the young generation's size and RSS, and exit.
const PROBE = `
const v8 = require('node:v8')
const write = process.stdout.write.bind(process.stdout)
let seen = false
process.stdout.write = (chunk, ...rest) => {
  if (!seen && String(chunk).includes('listening on')) {
    seen = true
    setTimeout(() => {
      const young = v8.getHeapSpaceStatistics().find(s => s.space_name === 'new_space')
      process.stderr.write('YOUNG ' + young.space_size + ' RSS ' + process.memoryUsage().rss + '\\n')
      process.exit(0)
    }, 200)
  }
  return write(chunk, ...rest)
}
`

describe('CLI: memory after loading a large state', function () {
  this.timeout(120000)
  let tmp = ''

  before(function () {
    if (!existsSync(NODE22)) this.skip() // the node@22 devDependency is not installed
    if (!existsSync(BUILT)) {
      const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 120000 })
      assert.equal(r.status, 0, `npm run build failed:\n${r.stdout}\n${r.stderr}`)
    }
  })

  beforeEach(function () { tmp = mkdtempSync(join(tmpdir(), 'hearth-load-memory-')) })
  afterEach(function () { rmSync(tmp, { recursive: true, force: true }) })

  it('after a restart on 60,000 retained messages the young generation is back to 1 MB (the load grows it to its maximum, 32 MB)', async function () {
    const dir = join(tmp, 'state')
    const broker = createBroker({ persistence: new FilePersistence({ dir }), maxRetainedMessages: RETAINED + 1000 })
    await broker.ready
    const c = await broker.connectLocal({ clientId: 'writer' })
    const payload = Buffer.alloc(64, 0x61)
    for (let i = 0; i < RETAINED; i++) c.publishWith({ topic: `site/${i % 100}/device/${i}/t`, payload, qos: 0, retain: true }, () => {})
    await c.end()
    await broker.close()
    assert.equal(existsSync(dir), true)

    writeFileSync(join(tmp, 'probe.cjs'), PROBE)
    writeFileSync(join(tmp, 'broker.json'), JSON.stringify({ maxRetainedMessages: RETAINED + 1000, maxRetainedBytes: 64 * 1024 * 1024 }))
    const child = spawn(NODE22, ['-r', join(tmp, 'probe.cjs'), BIN, '--port', '0', '--host', '127.0.0.1', '--config', join(tmp, 'broker.json'), '--persistence-dir', dir], { cwd: ROOT })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += String(d) })
    child.stderr.on('data', (d: Buffer) => { out += String(d) })
    const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
    const m = /YOUNG (\d+) RSS (\d+)/.exec(out)
    assert.ok(m, `no report from the CLI (exit ${code}):\n${out}`)
    const youngMiB = Number(m[1]) / 1048576
    assert.ok(youngMiB <= 1, `young generation ${youngMiB.toFixed(1)} MiB after the load\n${out}`)
  })
})
