// The CLI runs V8's helper threads below the event loop (src/cli/thread-priority.ts): the real CLI process, its
// threads' nice values read from /proc once it serves. Node 22 (the node@22 devDependency) names its threads, so the
// helpers (DelayedTaskScheduler and the unnamed platform workers) and libuv's pool ("libuv-worker", started later by
// the main thread for the persistence files) can be told apart.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { getPriority, tmpdir } from 'node:os'
import { join } from 'node:path'
import { HELPER_NICE_OFFSET } from '../../src/cli/thread-priority'

const ROOT = join(__dirname, '..', '..')
const NODE22 = join(ROOT, 'node_modules', 'node', 'bin', 'node')
const BIN = join(ROOT, 'bin', 'hearth-broker.js')
const BUILT = join(ROOT, 'dist', 'cli', 'hearth-broker.js')

interface ThreadInfo { tid: number, name: string, nice: number }

/** Every thread of a process: its id, name and nice value (stat field 19, counted after the name's closing parenthesis). */
function threadsOf (pid: number): ThreadInfo[] {
  return readdirSync(`/proc/${pid}/task`).map(t => {
    const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8')
    const open = stat.indexOf('(')
    const close = stat.lastIndexOf(')')
    const fields = stat.slice(close + 2).split(' ') // fields[0] is field 3 (state)
    return { tid: Number(t), name: stat.slice(open + 1, close), nice: Number(fields[19 - 3]) }
  })
}

describe('CLI: V8 helper threads run below the event loop', function () {
  this.timeout(60000)
  let tmp = ''
  let child: ChildProcess | undefined

  before(function () {
    if (process.platform !== 'linux' || !existsSync(NODE22)) this.skip() // /proc and the node@22 devDependency
    if (!existsSync(BUILT)) {
      const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 120000 })
      assert.equal(r.status, 0, `npm run build failed:\n${r.stdout}\n${r.stderr}`)
    }
  })

  beforeEach(function () { tmp = mkdtempSync(join(tmpdir(), 'hearth-thread-priority-')) })
  afterEach(async function () {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise(resolve => child?.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    child = undefined
    rmSync(tmp, { recursive: true, force: true })
  })

  it('the main thread and libuv\'s pool keep the priority the CLI started with; every V8 helper thread runs 10 lower', async function () {
    const base = getPriority() // the child starts with this process's nice value
    const c = spawn(NODE22, [BIN, '--port', '0', '--host', '127.0.0.1', '--persistence-dir', join(tmp, 'state')], { cwd: ROOT })
    child = c
    let out = ''
    await new Promise<void>((resolve, reject) => {
      const seen = (d: Buffer): void => { out += String(d); if (out.includes('listening on')) resolve() }
      c.stdout.on('data', seen)
      c.stderr.on('data', seen)
      c.once('exit', code => reject(new Error(`the CLI exited (${code}) before serving:\n${out}`)))
    })
    const pid = c.pid as number
    const threads = threadsOf(pid)
    const main = threads.filter(t => t.tid === pid)
    const pool = threads.filter(t => t.name === 'libuv-worker')
    const helpers = threads.filter(t => t.tid !== pid && t.name !== 'libuv-worker')
    const lowered = Math.min(19, base + HELPER_NICE_OFFSET)
    assert.deepEqual(main.map(t => t.nice), [base], `main thread: ${JSON.stringify(threads)}`)
    assert.ok(pool.length >= 1, `no libuv pool thread after loading the persistence files: ${JSON.stringify(threads)}`)
    assert.deepEqual(pool.map(t => t.nice), pool.map(() => base), `libuv pool: ${JSON.stringify(threads)}`)
    assert.ok(helpers.some(t => t.name === 'DelayedTaskSche'), `no DelayedTaskScheduler thread: ${JSON.stringify(threads)}`)
    assert.ok(helpers.length >= 5, `expected V8's scheduler and at least 4 platform workers: ${JSON.stringify(threads)}`)
    assert.deepEqual(helpers.map(t => t.nice), helpers.map(() => lowered), `helpers: ${JSON.stringify(threads)}`)
  })
})
