// The standalone CLI (bin/hearth-broker.js, built to dist/cli/hearth-broker.js) as a real process:
// its output contract, a mosquitto_pub/sub round trip, --config, signals and a port already in use.
// With HEARTH_INTEROP_TARGET=mosquitto the same client-side checks run against a mosquitto process
// (the Hearth-specific output checks are skipped there).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type Child, Children, Clients, exitOf, freePort, HOST, mosquittoConf, REPO_ROOT, requireTool, sleep, TARGET,
  type Target, uniq, waitForPort,
} from './helpers'

const BIN = join(REPO_ROOT, 'bin', 'hearth-broker.js')
const BUILT = join(REPO_ROOT, 'dist', 'cli', 'hearth-broker.js')
const LINE = /^hearth-broker listening on mqtt:\/\/127\.0\.0\.1:(\d+)$/m
const STACK = /^\s+at .+\(?.*:\d+:\d+\)?$/m

function newestMtime (dir: string): number {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

/** `npm run build` normally ran already (pretest); build here only when dist is missing or older than src. */
function ensureBuilt (): void {
  const src = Math.max(newestMtime(join(REPO_ROOT, 'src', 'broker')), newestMtime(join(REPO_ROOT, 'src', 'cli')))
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= src) return
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120000 })
  if (r.status !== 0 || !existsSync(BUILT)) throw new Error(`npm run build failed:\n${r.stdout}\n${r.stderr}`)
}

describe(`CLI: hearth-broker as a process${TARGET === 'mosquitto' ? ' (validated against mosquitto)' : ''}`, function () {
  this.timeout(30000)
  const children = new Children()
  const clients = new Clients()
  let tmp = ''
  let blocker: Server | undefined

  before(function () {
    this.timeout(150000)
    if (TARGET === 'hearth') ensureBuilt()
  })

  beforeEach(function () {
    tmp = mkdtempSync(join(tmpdir(), 'hearth-interop-cli-'))
  })

  afterEach(async function () {
    await clients.endAll()
    await children.killAll()
    if (blocker !== undefined) await new Promise<void>(resolve => blocker?.close(() => resolve()))
    blocker = undefined
    rmSync(tmp, { recursive: true, force: true })
  })

  /** Starts the server process and waits until it serves. `config` goes to a JSON file passed with --config. */
  async function start (opts: { config?: Record<string, unknown>, args?: string[], port?: number } = {}): Promise<{ child: Child, port: number, target: Target }> {
    if (TARGET === 'mosquitto') {
      const port = opts.port ?? await freePort()
      const maximumQoS = opts.config?.maximumQoS as 0 | 1 | 2 | undefined
      writeFileSync(join(tmp, 'mosquitto.conf'), mosquittoConf(port, maximumQoS !== undefined ? { maximumQoS } : {}))
      const child = children.spawn(requireTool('mosquitto'), ['-c', join(tmp, 'mosquitto.conf')])
      await waitForPort(port, 5000)
      return { child, port, target: targetOf(port) }
    }
    const args = opts.args ?? ['--port', String(opts.port ?? 0), '--host', HOST]
    if (opts.config !== undefined) {
      const file = join(tmp, 'broker.json')
      writeFileSync(file, JSON.stringify(opts.config))
      args.push('--config', file)
    }
    const child = children.spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT })
    const m = await child.waitOut(LINE, 10000)
    const port = Number(m[1])
    return { child, port, target: targetOf(port) }
  }

  const targetOf = (port: number): Target => ({ kind: TARGET, port, host: HOST, url: `mqtt://${HOST}:${port}`, stop: async () => {} })

  async function mosquittoRoundTrip (port: number, v: 'mqttv311' | 'mqttv5', qos: 0 | 1 | 2, pubQos = qos): Promise<{ granted: string, lines: string[] }> {
    const SUB = requireTool('mosquitto_sub')
    const PUB = requireTool('mosquitto_pub')
    const topic = uniq('cli/rt')
    const sub = children.spawn(requireTool('stdbuf'), ['-oL', SUB, '-h', HOST, '-p', String(port), '-V', v, '-d', '-q', String(qos),
      '-t', topic, '-C', '1', '-W', '10', '-F', 'MSG|%t|%q|%p'])
    const m = await sub.waitOut(/Subscribed \(mid: \d+\): ([0-9]+)/, 8000)
    const pub = children.spawn(PUB, ['-h', HOST, '-p', String(port), '-V', v, '-q', String(pubQos), '-t', topic, '-m', `hello ${v} q${pubQos}`])
    assert.equal((await exitOf(pub, 10000)).code, 0, pub.describe())
    assert.equal((await exitOf(sub, 12000)).code, 0, sub.describe())
    return { granted: m[1] ?? '', lines: sub.out.split('\n').filter(l => l.startsWith('MSG|')).map(l => l.replace(topic, 'T')) }
  }

  it('prints exactly one line per listener, "hearth-broker listening on mqtt://127.0.0.1:PORT", with the real port for --port 0', async function () {
    if (TARGET === 'mosquitto') this.skip()
    const { child, port } = await start()
    assert.ok(port > 0 && port < 65536, `a real port (got ${port})`)
    await sleep(500) // nothing else may follow
    assert.equal(child.out, `hearth-broker listening on mqtt://127.0.0.1:${port}\n`, 'stdout is exactly the listener line')
    assert.equal(child.err, '', 'nothing on stderr')
    await waitForPort(port, 2000)
  })

  for (const v of ['mqttv311', 'mqttv5'] as const) {
    for (const qos of [0, 1, 2] as const) {
      it(`serves a mosquitto_pub -> mosquitto_sub round trip (-V ${v}, QoS ${qos}) [MQTT-3.3.4-1]`, async function () {
        const { port } = await start()
        const { granted, lines } = await mosquittoRoundTrip(port, v, qos)
        assert.equal(granted, String(qos))
        assert.deepEqual(lines, [`MSG|T|${qos}|hello ${v} q${qos}`])
      })
    }
  }

  it('--config file.json applies broker options: maximumQoS 1 is announced in CONNACK and caps granted QoS for v5 and 3.1.1 clients [MQTT-3.2.2-9] [MQTT-3.8.4-7] [MQTT-3.8.4-8]', async function () {
    const { target } = await start({ config: { maximumQoS: 1 } })
    const { client: v5, connack } = await clients.connect(target, { protocolVersion: 5, clientId: uniq('cli-v5') })
    assert.equal(connack.properties?.maximumQoS, 1, 'Maximum QoS 1 in CONNACK')
    const topic = uniq('cli/maxqos')
    const granted5 = await v5.subscribeAsync(topic, { qos: 2 })
    assert.equal(granted5[0]?.qos, 1, 'v5 client asked QoS 2, granted 1')
    const { client: v4 } = await clients.connect(target, { protocolVersion: 4, clientId: uniq('cli-v4') })
    const granted4 = await v4.subscribeAsync(topic, { qos: 2 })
    assert.equal(granted4[0]?.qos, 1, '3.1.1 client asked QoS 2, granted 1')
    // a delivery on the capped subscription arrives at QoS 1
    const got: number[] = []
    v5.on('message', (_t, _p, packet) => got.push(packet.qos))
    await v4.publishAsync(topic, 'capped', { qos: 1 })
    const end = Date.now() + 5000
    while (got.length === 0 && Date.now() < end) await sleep(20)
    assert.deepEqual(got, [1])
  })

  it('--config with port and host in the JSON (no flags) listens where the file says, with maximumQoS seen by mosquitto_sub -V mqttv5', async function () {
    if (TARGET === 'mosquitto') this.skip()
    const file = join(tmp, 'only.json')
    writeFileSync(file, JSON.stringify({ port: 0, host: HOST, maximumQoS: 1 }))
    const { port } = await start({ args: ['--config', file] })
    // mosquitto_pub itself refuses QoS 2 above the announced Maximum QoS [MQTT-3.2.2-11], so publish at 1
    const { granted, lines } = await mosquittoRoundTrip(port, 'mqttv5', 2, 1)
    assert.equal(granted, '1', 'mosquitto_sub -q 2 was granted QoS 1')
    assert.deepEqual(lines, ['MSG|T|1|hello mqttv5 q1'])
  })

  it('the account rule shared with the broker node: no users, any user name and password get in; with users, a given user name must match (mosquitto_pub -u)', async function () {
    if (TARGET === 'mosquitto') this.skip()
    const PUB = requireTool('mosquitto_pub')
    const pub = async (port: number, user: string, pass: string): Promise<number | null> =>
      (await exitOf(children.spawn(PUB, ['-h', HOST, '-p', String(port), '-V', 'mqttv311', '-i', 'DVES_A1B2C3', '-u', user, '-P', pass, '-t', 'tele/plug/LWT', '-m', 'Online']), 10000)).code
    const open = await start()
    assert.equal(await pub(open.port, 'DVES_USER', 'DVES_PASS'), 0, 'no users: a factory-default user name is let in')
    await children.killAll()
    const closed = await start({ config: { users: { plug: 's3cret' } } })
    assert.notEqual(await pub(closed.port, 'DVES_USER', 'DVES_PASS'), 0, 'an unknown user name is refused')
    assert.notEqual(await pub(closed.port, 'plug', 'wrong'), 0, 'a wrong password is refused')
    assert.equal(await pub(closed.port, 'plug', 's3cret'), 0, 'the account gets in')
  })

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`exits with code 0 on ${signal}, with clients connected, promptly and without a stack trace`, async function () {
      const { child, target } = await start()
      const { client } = await clients.connect(target, { protocolVersion: 5, clientId: uniq('cli-sig'), clean: false, properties: { sessionExpiryInterval: 60 } })
      await client.subscribeAsync(uniq('cli/sig'), { qos: 1 })
      const closed = new Promise<void>(resolve => client.once('close', () => resolve()))
      child.proc.kill(signal)
      const { code, signal: bySignal } = await exitOf(child, 8000)
      assert.equal(bySignal, null, `exited by itself, not killed by ${String(bySignal)}`)
      assert.equal(code, 0, child.describe())
      await closed // the client saw its connection end
      assert.doesNotMatch(child.err, STACK, 'no stack trace')
    })
  }

  it('a port already in use is reported: non-zero exit, a clear message naming the port, no stack trace, no listening line', async function () {
    blocker = createServer()
    await new Promise<void>((resolve, reject) => { blocker?.once('error', reject); blocker?.listen(0, HOST, () => resolve()) })
    const addr = blocker.address()
    const busy = typeof addr === 'object' && addr !== null ? addr.port : 0
    const child = TARGET === 'mosquitto'
      ? (() => {
          writeFileSync(join(tmp, 'mosquitto.conf'), mosquittoConf(busy))
          return children.spawn(requireTool('mosquitto'), ['-c', join(tmp, 'mosquitto.conf')])
        })()
      : children.spawn(process.execPath, [BIN, '--port', String(busy), '--host', HOST], { cwd: REPO_ROOT })
    const { code } = await exitOf(child, 10000)
    const all = child.out + child.err
    assert.notEqual(code, 0, `non-zero exit: ${child.describe()}`)
    assert.match(all, /in use|EADDRINUSE/i, 'says the address is in use')
    if (TARGET === 'hearth') {
      assert.ok(all.includes(String(busy)), `names the port ${busy}: ${all}`)
      assert.doesNotMatch(child.out, /listening on/, 'no listening line')
    }
    assert.doesNotMatch(all, STACK, `no stack trace: ${all}`)
  })

  it('an unreadable --config file is reported: non-zero exit, a clear message, no stack trace', async function () {
    if (TARGET === 'mosquitto') this.skip()
    const bad = join(tmp, 'bad.json')
    writeFileSync(bad, '{ not json')
    for (const file of [bad, join(tmp, 'missing.json')]) {
      const child = children.spawn(process.execPath, [BIN, '--port', '0', '--host', HOST, '--config', file], { cwd: REPO_ROOT })
      const { code } = await exitOf(child, 10000)
      assert.notEqual(code, 0, child.describe())
      assert.ok(child.err.includes(file), `names the file: ${child.err}`)
      assert.doesNotMatch(child.out + child.err, STACK, 'no stack trace')
      assert.doesNotMatch(child.out, /listening on/)
    }
  })
})
