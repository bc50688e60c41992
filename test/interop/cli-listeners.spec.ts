// The CLI's listeners and config contract (issues 8 and 9) as a real process: one line per
// listener, TLS and WebSocket listeners from the JSON config (certificate paths relative to the
// config file's folder), the loopback default, the anonymous default, and exit code 2 with a
// message naming the key for every kind of config error (runtime failures keep exit code 1).
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Children, exitOf, HOST, REPO_ROOT, requireTool, sleep, TARGET, uniq, type Child } from './helpers'
import { CLIENT_CN, makeCerts, type TestCerts } from '../listeners/certs'
import { Scope, waitFor } from '../listeners/support'

const BIN = join(REPO_ROOT, 'bin', 'hearth-broker.js')
const STACK = /^\s+at .+\(?.*:\d+:\d+\)?$/m
const LINE = /^hearth-broker listening on (\S+)$/gm

describe('CLI: listeners and config contract (hearth-broker as a process)', function () {
  this.timeout(40000)
  const children = new Children()
  const scope = new Scope()
  let certs: TestCerts
  let tmp = ''
  let conf = ''
  let blocker: Server | undefined

  before(function () {
    if (TARGET !== 'hearth') this.skip()
    certs = makeCerts()
  })
  after(function () { certs?.remove() })
  beforeEach(function () {
    tmp = mkdtempSync(join(tmpdir(), 'hearth-cli-listeners-'))
    // The config lives in its own folder with its certificates under certs/; the process runs elsewhere.
    conf = join(tmp, 'conf')
    mkdirSync(join(conf, 'certs'), { recursive: true })
    for (const [from, to] of [[certs.serverCert, 'server.crt'], [certs.serverKey, 'server.key'], [certs.caCert, 'ca.crt'], [certs.clientKey, 'client.key']]) {
      copyFileSync(from, join(conf, 'certs', to))
    }
  })
  afterEach(async function () {
    await scope.close()
    await children.killAll()
    if (blocker !== undefined) await new Promise<void>(resolve => blocker?.close(() => resolve()))
    blocker = undefined
    rmSync(tmp, { recursive: true, force: true })
  })

  function run (config: unknown, args: string[] = []): Child {
    const file = join(conf, 'broker.json')
    writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config))
    return children.spawn(process.execPath, [BIN, '--config', file, ...args], { cwd: REPO_ROOT })
  }

  /** Waits for `n` listening lines; returns their URLs in order. */
  async function lines (child: Child, n: number): Promise<string[]> {
    await waitFor(() => child.exited || [...child.out.matchAll(LINE)].length >= n, `${n} listening lines: ${child.describe()}`)
    await sleep(300) // nothing else may follow
    return [...child.out.matchAll(LINE)].map(m => m[1])
  }

  const portOf = (url: string): number => Number(/:(\d+)(?:\/|$)/.exec(url)?.[1])

  async function pub (port: number, args: string[]): Promise<{ code: number | null, out: string }> {
    const c = children.spawn(requireTool('mosquitto_pub'), ['-h', HOST, '-p', String(port), '-q', '1', '-t', uniq('cli/l'), '-m', 'x', ...args])
    const { code } = await exitOf(c, 15000)
    return { code, out: c.out + c.err }
  }

  it('four protocols from one config: one line each, in order, with real ports and the ws path; clients get in over each; cert paths start at the config folder; SIGTERM exits 0', async function () {
    const child = run({
      listeners: [
        { protocol: 'mqtts', port: 0, host: HOST, cert: 'certs/server.crt', key: 'certs/server.key', ca: 'certs/ca.crt', requireCertificate: true, useIdentityAsUsername: true },
        { protocol: 'ws', port: 0, host: HOST, path: '/mqtt' },
        { protocol: 'wss', port: 0, host: HOST, cert: 'certs/server.crt', key: 'certs/server.key' },
      ],
      users: { alice: 's3cret' },
    }, ['--port', '0'])
    const urls = await lines(child, 4)
    assert.equal(urls.length, 4, child.describe())
    const [mqtts, ws, wss, mqtt] = urls
    assert.match(mqtts, /^mqtts:\/\/127\.0\.0\.1:\d+$/)
    assert.match(ws, /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/)
    assert.match(wss, /^wss:\/\/127\.0\.0\.1:\d+$/)
    assert.match(mqtt, /^mqtt:\/\/127\.0\.0\.1:\d+$/)
    assert.ok(urls.every(u => portOf(u) > 0), 'real ports, not 0')
    assert.equal(child.out, urls.map(u => `hearth-broker listening on ${u}\n`).join(''), 'stdout is exactly the lines')
    assert.equal(child.err, '')

    // Plain TCP with an account; TLS by certificate alone (the CN is the user, no password); WebSocket with the account.
    const topic = uniq('cli/all')
    const got: string[] = []
    const watcher = await scope.connect(mqtt, { username: 'alice', password: 's3cret', clientId: 'watcher' })
    watcher.on('message', (_t, p) => got.push(p.toString()))
    await watcher.subscribeAsync(topic, { qos: 1 })
    const certPub = children.spawn(requireTool('mosquitto_pub'), ['-h', HOST, '-p', String(portOf(mqtts)), '--cafile', join(conf, 'certs', 'ca.crt'),
      '--cert', certs.clientCert, '--key', join(conf, 'certs', 'client.key'), '-q', '1', '-t', topic, '-m', 'by certificate'])
    assert.equal((await exitOf(certPub, 15000)).code, 0, certPub.describe())
    const overWs = await scope.connect(ws, { username: 'alice', password: 's3cret', clientId: 'ws-client' })
    await overWs.publishAsync(topic, 'over ws', { qos: 1 })
    const overWss = await scope.connect(wss, { username: 'alice', password: 's3cret', clientId: 'wss-client', ca: certs.read(certs.caCert) })
    await overWss.publishAsync(topic, 'over wss', { qos: 1 })
    await waitFor(() => got.length >= 3, 'three messages')
    assert.deepEqual(got, ['by certificate', 'over ws', 'over wss'])
    await assert.rejects(scope.connect(ws, { clientId: 'anon-ws' }), 'anonymous refused: there are accounts')
    // No certificate on the mqtts listener: refused at the handshake, nothing printed per failure.
    assert.notEqual((await pub(portOf(mqtts), ['--cafile', certs.caCert])).code, 0)
    assert.equal(child.err, '', 'a failed handshake is not worth a line')
    assert.ok(CLIENT_CN.length > 0)

    child.proc.kill('SIGTERM')
    const { code, signal } = await exitOf(child, 8000)
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, child.describe())
  })

  it('the loopback default: with no listener, port or host given it listens on 127.0.0.1:1883 (or says 127.0.0.1:1883 is in use)', async function () {
    const child = children.spawn(process.execPath, [BIN], { cwd: REPO_ROOT })
    await waitFor(() => child.exited || child.out.includes('\n'), `a line or an exit: ${child.describe()}`)
    if (child.exited) {
      assert.equal((await child.exit).code, 1, child.describe())
      assert.match(child.err, /127\.0\.0\.1:1883: port 1883 is already in use/)
    } else {
      assert.equal(child.out, 'hearth-broker listening on mqtt://127.0.0.1:1883\n')
    }
    const flagOnly = children.spawn(process.execPath, [BIN, '--port', '0'], { cwd: REPO_ROOT })
    const [url] = await lines(flagOnly, 1)
    assert.match(url, /^mqtt:\/\/127\.0\.0\.1:\d+$/, '--port without --host stays on loopback')
  })

  it('anonymous default: a loopback-only broker without accounts lets anonymous clients in', async function () {
    const child = run({ listeners: [{ protocol: 'mqtt', port: 0, host: HOST }] })
    const [url] = await lines(child, 1)
    assert.equal((await pub(portOf(url), [])).code, 0)
  })

  it('anonymous default: refused on a non-loopback listener (accounts still get in), unless allowAnonymous says true', async function () {
    const closed = run({ listeners: [{ protocol: 'mqtt', port: 0 }], users: { alice: 's3cret' } })
    const [url] = await lines(closed, 1)
    assert.match(url, /^mqtt:\/\/(\[::\]|0\.0\.0\.0):\d+$/, 'every interface, as a Mosquitto listener line')
    const anon = await pub(portOf(url), [])
    assert.notEqual(anon.code, 0, 'anonymous refused')
    assert.match(anon.out, /not authori[sz]ed/i)
    assert.equal((await pub(portOf(url), ['-u', 'alice', '-P', 's3cret'])).code, 0, 'the account gets in')
    await children.killAll()

    const open = run({ listeners: [{ protocol: 'mqtt', port: 0 }], allowAnonymous: true })
    const [openUrl] = await lines(open, 1)
    assert.equal((await pub(portOf(openUrl), [])).code, 0, 'allowAnonymous: true lets anonymous clients in')
  })

  const configErrors: Array<{ title: string, config: unknown, args?: string[], key: string }> = [
    { title: 'an unknown key', config: { listners: [] }, key: 'listners' },
    { title: 'an unknown listener key', config: { listeners: [{ protocol: 'mqtt', port: 0, address: HOST }] }, key: 'listeners[0].address' },
    { title: 'a value of the wrong type', config: { listeners: [{ protocol: 'mqtt', port: '0' }] }, key: 'listeners[0].port' },
    { title: 'a value out of range', config: { port: 70000 }, key: 'port' },
    { title: 'a missing key', config: { listeners: [{ port: 0 }] }, key: 'listeners[0].protocol' },
    { title: 'a key that does not apply', config: { listeners: [{ protocol: 'mqtt', port: 0, cert: 'certs/server.crt' }] }, key: 'listeners[0].cert' },
    { title: 'allowAnonymous false and no users', config: { allowAnonymous: false }, key: 'allowAnonymous' },
    { title: 'a non-loopback listener, no users, allowAnonymous not set', config: { listeners: [{ protocol: 'mqtt', port: 0 }] }, key: 'allowAnonymous' },
    { title: 'a certificate file that cannot be read (relative to the config folder)', config: { listeners: [{ protocol: 'mqtts', port: 0, host: HOST, cert: 'certs/missing.crt', key: 'certs/server.key' }] }, key: 'listeners[0].cert' },
    { title: 'a key that does not match the certificate', config: { listeners: [{ protocol: 'wss', port: 0, host: HOST, cert: 'certs/server.crt', key: 'certs/client.key' }] }, key: 'listeners[0].key' },
    { title: 'a broker option out of its range', config: { maxConnections: 0 }, key: 'maxConnections' },
    { title: 'a config file that is not JSON', config: '{ "port": ', key: '--config' },
    { title: 'an unknown argument', config: {}, args: ['--tls'], key: '--tls' },
    { title: 'a bad --port', config: {}, args: ['--port', 'x'], key: '--port' },
  ]
  for (const c of configErrors) {
    it(`exit code 2 and a message naming ${c.key}: ${c.title}`, async function () {
      const child = run(c.config, c.args)
      const { code } = await exitOf(child, 10000)
      assert.equal(code, 2, child.describe())
      assert.ok(child.err.startsWith(`hearth-broker: `) && child.err.includes(c.key), `names ${c.key}: ${child.err}`)
      assert.equal(child.out, '', 'no listening line')
      assert.doesNotMatch(child.err, STACK, 'no stack trace')
    })
  }

  it('a missing config file: exit code 2 naming it', async function () {
    const missing = join(tmp, 'nope.json')
    const child = children.spawn(process.execPath, [BIN, '--config', missing], { cwd: REPO_ROOT })
    assert.equal((await exitOf(child, 10000)).code, 2)
    assert.ok(child.err.includes(missing), child.err)
  })

  it('a runtime failure keeps exit code 1: the port of the second listener is in use; no line is printed', async function () {
    blocker = createServer()
    await new Promise<void>((resolve, reject) => { blocker?.once('error', reject); blocker?.listen(0, HOST, () => resolve()) })
    const busy = (blocker.address() as { port: number }).port
    const child = run({ listeners: [{ protocol: 'mqtt', port: 0, host: HOST }, { protocol: 'ws', port: busy, host: HOST }] })
    const { code } = await exitOf(child, 10000)
    assert.equal(code, 1, child.describe())
    assert.match(child.err, new RegExp(`ws 127\\.0\\.0\\.1:${busy}: port ${busy} is already in use`))
    assert.equal(child.out, '')
    assert.doesNotMatch(child.err, STACK)
  })
})
