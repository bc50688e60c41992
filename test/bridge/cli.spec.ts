/*
 * The CLI's bridges as a real process (bin/hearth-broker.js, built to dist/cli/): the startup and
 * state lines, a bridge that carries messages (its local side trusted although anonymous clients
 * are refused), a clean stop that says 0 at the remote, and exit code 2 naming the key for a bad
 * bridge or an unreadable TLS file, before anything listens.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { exitOf, REPO_ROOT } from '../interop/helpers'
import { HOST, pollUntil, retainedOf, useFixture, type Fixture } from './helpers'

const BIN = join(REPO_ROOT, 'bin', 'hearth-broker.js')
const BUILT = join(REPO_ROOT, 'dist', 'cli', 'hearth-broker.js')
const LISTENING = /^hearth-broker listening on mqtt:\/\/127\.0\.0\.1:(\d+)$/m

function newestMtime (dir: string): number {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

/** `npm run build` normally ran already (pretest); build here only when dist is older than src. */
function ensureBuilt (): void {
  const src = Math.max(...['broker', 'cli', 'bridge', 'listeners'].map(d => newestMtime(join(REPO_ROOT, 'src', d))))
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= src) return
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120000, env: { ...process.env, HEARTH_SKIP_NODES: '1' } })
  if (r.status !== 0 || !existsSync(BUILT)) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`)
}

function startCli (f: Fixture, config: Record<string, unknown>): ReturnType<Fixture['children']['spawn']> {
  const dir = f.tempDir('hearth-bridge-cli-')
  const file = join(dir, 'broker.json')
  writeFileSync(file, JSON.stringify(config))
  return f.children.spawn(process.execPath, [BIN, '--config', file], { cwd: REPO_ROOT })
}

describe('bridge: the CLI', function () {
  this.timeout(30000)
  const f = useFixture()

  before(function () {
    this.timeout(150000)
    ensureBuilt()
  })

  it('prints a line per bridge at start and when its state changes; carries messages; SIGTERM says 0 at the remote', async function () {
    const remote = await f.hearth()
    const cli = startCli(f, {
      port: 0,
      host: HOST,
      users: { dev: 'pw' }, // anonymous clients refused: the bridge's in-process side is trusted all the same
      bridges: [{ name: 'cloud', url: remote.url, clientId: 'house1', restartTimeout: 0.2, topics: [{ pattern: 'home/#', direction: 'both', qos: 1, remotePrefix: 'house1/' }] }],
    })
    const port = Number((await cli.waitOut(LISTENING, 10000))[1])
    await cli.waitOut(new RegExp(`^hearth-broker bridge cloud connecting to mqtt://127\\.0\\.0\\.1:${remote.port}$`, 'm'), 5000)
    await cli.waitOut(new RegExp(`^hearth-broker bridge cloud connected to mqtt://127\\.0\\.0\\.1:${remote.port} \\(MQTT 5\\)$`, 'm'), 5000)
    const atRemote = await f.peer(remote.url, {}, [{ topic: 'house1/#', qos: 1 }])
    const atCli = await f.peer(`mqtt://${HOST}:${port}`, { username: 'dev', password: 'pw' }, [{ topic: 'home/#', qos: 1 }])
    await atCli.client.publishAsync('home/lamp', 'on', { qos: 1 })
    const pubR = await f.peer(remote.url)
    await pubR.client.publishAsync('house1/home/cmd', 'off', { qos: 1 })
    await pollUntil(() => atRemote.on('house1/home/lamp').length === 1 && atCli.on('home/cmd').length === 1, 3000, 'both ways')
    assert.equal(retainedOf(remote.broker, '$SYS/#')['$SYS/broker/connection/house1/state'], '1')
    // the remote drops the bridge: one line, with the reason and the wait
    remote.broker.disconnectClient('house1')
    await cli.waitOut(new RegExp(`^hearth-broker bridge cloud disconnected from mqtt://127\\.0\\.0\\.1:${remote.port}: the remote disconnected \\(reason 0x98\\); retrying in 0\\.[0-9] s$`, 'm'), 5000)
    await pollUntil(() => (cli.out.match(/bridge cloud connected to/g) ?? []).length === 2, 5000, 'connected again')
    cli.proc.kill('SIGTERM')
    assert.deepEqual(await exitOf(cli, 10000), { code: 0, signal: null })
    assert.equal(retainedOf(remote.broker, '$SYS/#')['$SYS/broker/connection/house1/state'], '0')
    assert.equal(cli.err, '')
  })

  const BAD: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a QoS out of range', { name: 'c', url: 'mqtt://127.0.0.1:1', topics: [{ pattern: 'a', qos: 3 }] }, /^hearth-broker: bridges\[0\]\.topics\[0\]\.qos: must be from 0 to 2, got 3$/m],
    ['an unknown key', { name: 'c', url: 'mqtt://127.0.0.1:1', adress: 'x', topics: [{ pattern: 'a' }] }, /^hearth-broker: bridges\[0\]\.adress: unknown key$/m],
    ['a CA file that does not exist (relative to the config file)', { name: 'c', url: 'mqtts://127.0.0.1:1', ca: 'certs/ca.crt', topics: [{ pattern: 'a' }] }, /^hearth-broker: bridges\[0\]\.ca: cannot read \/.+\/certs\/ca\.crt: ENOENT$/m],
  ]
  for (const [what, bridge, message] of BAD) {
    it(`exit code 2 for ${what}, naming the key, before anything listens`, async function () {
      const cli = startCli(f, { port: 0, host: HOST, bridges: [bridge] })
      assert.deepEqual(await exitOf(cli, 10000), { code: 2, signal: null })
      assert.match(cli.err, message)
      assert.doesNotMatch(cli.out, /listening/)
    })
  }
})
