// Test whether the CLI takes a password file made by the real mosquitto_passwd and a Mosquitto ACL
// file (--password-file, --acl-file, or passwordFile/aclFile in the config), refuses an unusable
// file at start with exit code 2, and re-reads both files on SIGHUP without dropping a connection.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { Children, exitOf, HOST, REPO_ROOT, requireTool, TARGET, type Child } from './helpers'
import { waitFor } from '../listeners/support'

const BIN = join(REPO_ROOT, 'bin', 'hearth-broker.js')
const LINE = /^hearth-broker listening on mqtt:\/\/127\.0\.0\.1:(\d+)$/m

describe('CLI: password file and ACL file (hearth-broker as a process)', function () {
  this.timeout(40000)
  const children = new Children()
  const clients: MqttClient[] = []
  let tmp = ''

  before(function () { if (TARGET !== 'hearth') this.skip() })
  beforeEach(function () { tmp = mkdtempSync(join(tmpdir(), 'hearth-cli-access-')) })
  afterEach(async function () {
    await Promise.all(clients.splice(0).map(c => c.endAsync(true)))
    await children.killAll()
    rmSync(tmp, { recursive: true, force: true })
  })

  function passwd (users: Record<string, string>): string {
    const file = join(tmp, 'passwd')
    rmSync(file, { force: true })
    for (const [u, p] of Object.entries(users)) execFileSync(requireTool('mosquitto_passwd'), ['-b', ...(Object.keys(users)[0] === u ? ['-c'] : []), file, u, p])
    return file
  }

  async function start (args: string[]): Promise<{ child: Child, port: number }> {
    const child = children.spawn(process.execPath, [BIN, '--port', '0', ...args], { cwd: REPO_ROOT })
    await waitFor(() => child.exited || LINE.test(child.out), `the listening line: ${child.describe()}`)
    const m = LINE.exec(child.out)
    assert.ok(m, child.describe())
    return { child, port: Number(m[1]) }
  }

  async function connect (port: number, username: string, password: string): Promise<MqttClient | number> {
    const c = mqtt.connect(`mqtt://${HOST}:${port}`, { username, password, reconnectPeriod: 0, protocolVersion: 5, connectTimeout: 5000 })
    return await new Promise<MqttClient | number>((resolve) => {
      c.once('connect', () => { clients.push(c); resolve(c) })
      c.once('error', (err: Error & { code?: number }) => { c.end(true); resolve(err.code ?? -1) })
    })
  }

  /** What `reader` gets within 500 ms after `writer` publishes each topic. */
  async function deliveries (reader: MqttClient, writer: MqttClient, topics: string[]): Promise<string[]> {
    const got: string[] = []
    reader.on('message', (t) => got.push(t))
    await reader.subscribeAsync('#', { qos: 1 })
    for (const t of topics) await writer.publishAsync(t, 'x', { qos: 1 })
    await new Promise(resolve => setTimeout(resolve, 500))
    return got.sort()
  }

  it('mosquitto_passwd accounts and a per-device ACL: each device reads and writes only its own topics; SIGHUP brings a new user and new rules, the connected clients stay', async function () {
    const pw = passwd({ plug1: 'p1', ha: 'ha-secret' })
    const acl = join(tmp, 'acl')
    writeFileSync(acl, '# devices\nuser plug1\ntopic readwrite plug/1/#\n\nuser ha\ntopic readwrite #\n')
    const { child, port } = await start(['--password-file', pw, '--acl-file', acl])
    assert.equal(await connect(port, 'plug1', 'wrong'), 0x86)
    assert.equal(await connect(port, 'plug2', 'p2'), 0x86, 'not in the password file yet')
    const plug1 = await connect(port, 'plug1', 'p1') as MqttClient
    const ha = await connect(port, 'ha', 'ha-secret') as MqttClient
    assert.deepEqual(await deliveries(plug1, ha, ['plug/1/cmnd', 'plug/2/cmnd', 'lock/door/set']), ['plug/1/cmnd'])

    passwd({ plug1: 'p1', ha: 'ha-secret', plug2: 'p2' })
    writeFileSync(acl, 'user plug1\ntopic readwrite plug/1/#\ntopic read lock/door/state\n\nuser plug2\ntopic readwrite plug/2/#\n\nuser ha\ntopic readwrite #\n')
    child.proc.kill('SIGHUP')
    await waitFor(() => /reloaded password file .* and ACL file/.test(child.err), `the reload line: ${child.describe()}`)
    assert.equal(plug1.connected && ha.connected, true, 'connections stay across SIGHUP')
    const plug2 = await connect(port, 'plug2', 'p2') as MqttClient
    assert.equal(typeof plug2, 'object', 'the new user gets in')
    plug1.removeAllListeners('message')
    assert.deepEqual(await deliveries(plug1, ha, ['plug/1/cmnd', 'plug/2/cmnd', 'lock/door/state']), ['lock/door/state', 'plug/1/cmnd'])
  })

  it('a password file or ACL file that cannot be used is refused at start with exit code 2, naming the key', async function () {
    const bad = join(tmp, 'bad')
    writeFileSync(bad, 'no colon on this line\n')
    for (const [flag, key] of [['--password-file', 'passwordFile'], ['--acl-file', 'aclFile']]) {
      const child = children.spawn(process.execPath, [BIN, '--port', '0', flag, flag === '--acl-file' ? join(tmp, 'missing') : bad], { cwd: REPO_ROOT })
      const { code } = await exitOf(child, 10000)
      assert.equal(code, 2, child.describe())
      assert.match(child.err, new RegExp(key), child.describe())
    }
  })
})
