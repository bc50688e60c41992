/**
 * Hearth's access control against the real thing (Debian mosquitto 2.0.x and mosquitto_passwd):
 *   - password files written by mosquitto_passwd ($7$ default, $6$ with -H sha512) verify in Hearth;
 *   - Hearth's $7$ hashes verify in a real Mosquitto (mosquitto_pub -u/-P);
 *   - one household ACL + password file, the same MQTT.js scenario against Mosquitto and Hearth:
 *     every client subscribes broad and narrow filters, then every client publishes to every
 *     topic; what each client receives (retained messages included) must be the same. Mosquitto
 *     does not check SUBSCRIBE, so deliveries are compared: Hearth's refuse-or-grant on SUBSCRIBE
 *     plus its read check at delivery must reproduce Mosquitto's read ACL.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as mqttConnect, type MqttClient } from 'mqtt'
import { AclAuthorizer, PasswordAuthenticator, formatPasswordFile, hashPassword, loadPasswordFile, parseAclFile } from '../../src/broker/access'
import type { AuthClient, Authorizer } from '../../src/broker/auth'
import { createBroker, matchTopic, type Broker } from '../../src/broker'
import { Children, HOST, freePort, requireTool, waitForPort, withTimeout } from '../interop/helpers'
import { pollUntil } from '../helpers/wait'

function mosquittoPasswd (args: string[]): void {
  const r = spawnSync('/usr/bin/mosquitto_passwd', args, { encoding: 'utf8', timeout: 20000 })
  if (r.status !== 0) throw new Error(`mosquitto_passwd ${args.join(' ')} failed (${String(r.status)}): ${r.stderr}${r.error?.message ?? ''}`)
}

/** Start Mosquitto on a free port with `password_file` / `acl_file` (files in a directory it can read after dropping root). */
async function startMosquitto (children: Children, dir: string, files: { passwordFile?: string, aclFile?: string }, allowAnonymous: boolean): Promise<{ port: number, stop: () => Promise<void> }> {
  const bin = requireTool('mosquitto')
  const port = await freePort()
  const conf = [`listener ${port} ${HOST}`, `allow_anonymous ${String(allowAnonymous)}`, 'persistence false']
  if (files.passwordFile !== undefined) conf.push(`password_file ${files.passwordFile}`)
  if (files.aclFile !== undefined) conf.push(`acl_file ${files.aclFile}`)
  const confPath = join(dir, `mosquitto-${port}.conf`)
  writeFileSync(confPath, conf.join('\n') + '\n')
  const c = children.spawn(bin, ['-c', confPath])
  await waitForPort(port, 8000).catch(e => { throw new Error(`${String(e)}\n${c.describe()}`) })
  return {
    port,
    stop: async () => {
      if (!c.exited) c.proc.kill('SIGTERM')
      await withTimeout(c.exit, 5000, 'mosquitto exit').catch(() => c.proc.kill('SIGKILL'))
    },
  }
}

/** mosquitto_pub with credentials: exit code and stderr. */
function pub (port: number, user: string, password: string): { code: number | null, err: string } {
  const r = spawnSync(requireTool('mosquitto_pub'), ['-h', HOST, '-p', String(port), '-u', user, '-P', password, '-t', 'pw/check', '-m', 'x', '-q', '1'], { encoding: 'utf8', timeout: 15000 })
  return { code: r.status, err: r.stderr }
}

// --- the household used for the ACL comparison ----------------------------------------------

const ACL = `# Household ACL used by both brokers.
# Anonymous clients: read the weather, report it.
topic read weather/#
topic write weather/report

user homeassistant
topic readwrite home/#
topic readwrite lock/#
topic readwrite weather/#
topic readwrite $custom/#

user dashboard
topic read home/#
topic deny home/+/secret
topic read $custom/dash

user plug1
# a user's topic grant is decided before the patterns: the "pattern deny lock/#" below does not take it back
topic readwrite lock/override

user plug2
# a user's topic deny is decided before the patterns: plug2 does not get its commands despite "pattern read" below
topic deny home/plug/plug2/set

# every plug writes its own state and reads its own commands; devices own devices/<client id>/#
pattern write home/plug/%u/state
pattern read home/plug/%u/set
pattern readwrite devices/%c/#
pattern deny lock/#
`

interface Identity { name: string, clientId: string, username?: string, password?: string }
const PASSWORDS: Record<string, string> = { homeassistant: 'ha pw ✓', dashboard: 'dash', plug1: 'p1', plug2: 'p2', 'sensor-kitchen': 'sk' }
const IDENTITIES: Identity[] = [
  { name: 'anonymous', clientId: 'anon1' },
  { name: 'homeassistant', clientId: 'ha1', username: 'homeassistant' },
  { name: 'dashboard', clientId: 'dash1', username: 'dashboard' },
  { name: 'plug1', clientId: 'plug1', username: 'plug1' },
  { name: 'plug2', clientId: 'plug2', username: 'plug2' },
  { name: 'sensor (client id "kitchen")', clientId: 'kitchen', username: 'sensor-kitchen' },
  { name: 'plug1 with client id "evil+1" (no pattern rules)', clientId: 'evil+1', username: 'plug1' },
].map(i => i.username !== undefined ? { ...i, password: PASSWORDS[i.username] } : i)
const FILTERS = ['#', '$custom/#', 'home/+/temp', 'lock/#', 'home/plug/+/set', 'devices/#', 'weather/now']
const TOPICS = [
  'home/plug/plug1/state', 'home/plug/plug2/state', 'home/plug/plug1/set', 'home/plug/plug2/set', 'home/kitchen/temp',
  'home/kitchen/secret', 'lock/front/set', 'lock/front/state', 'lock/override', 'weather/now', 'weather/report',
  'devices/kitchen/x', 'devices/plug1/x', '$custom/x', '$custom/dash',
]
const RETAINED = ['home/kitchen/temp', 'lock/front/state', '$custom/dash', 'home/kitchen/secret'] // published retained by homeassistant first

/** What each identity received: "<identity> <- <payload>" (payload "<publisher>|<topic>" or "retained|<topic>"). */
async function runScenario (port: number): Promise<Set<string>> {
  const clients: MqttClient[] = []
  const got = new Set<string>()
  let lastMessage = Date.now()
  const connect = async (id: Identity, onMessage?: (topic: string, payload: Buffer) => void): Promise<MqttClient> => {
    const c = mqttConnect(`mqtt://${HOST}:${port}`, {
      clientId: id.clientId, username: id.username, password: id.password, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, clean: true,
    })
    clients.push(c)
    if (onMessage !== undefined) c.on('message', onMessage)
    await withTimeout(new Promise<void>((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject) }), 8000, `connect ${id.name}`)
    return c
  }
  try {
    const ha = IDENTITIES[1]
    const setup = await connect({ ...ha, clientId: 'retainer' })
    for (const t of RETAINED) await setup.publishAsync(t, `retained|${t}`, { qos: 1, retain: true }).catch(() => undefined) // refused ones stay unretained
    const byName = new Map<string, MqttClient>()
    for (const id of IDENTITIES) {
      const c = await connect(id, (topic, payload) => {
        lastMessage = Date.now()
        const p = payload.toString()
        if (TOPICS.includes(topic)) got.add(`${id.name} <- ${p}`) // ignore the broker's own $SYS traffic, if any
      })
      // one SUBSCRIBE per filter: Hearth refuses (0x87) a filter under which nothing may be read, Mosquitto grants all
      for (const f of FILTERS) await c.subscribeAsync(f, { qos: 1 }).catch(() => undefined)
      byName.set(id.name, c)
    }
    for (const id of IDENTITIES) {
      const c = byName.get(id.name) as MqttClient
      // a refused PUBLISH is acknowledged with an error reason code (MQTT 5) or silently dropped: either way, no delivery
      await Promise.all(TOPICS.map(t => c.publishAsync(t, `${id.name}|${t}`, { qos: 1 }).catch(() => undefined)))
    }
    // Deliveries are done when nothing has arrived for 500 ms (every PUBACK is already in).
    await pollUntil(() => Date.now() - lastMessage > 500, 15000, 'the deliveries to settle')
    return got
  } finally {
    await Promise.all(clients.map(c => withTimeout(c.endAsync(true), 3000, 'end').catch(() => undefined)))
  }
}

/** What Hearth's decisions predict: write by the publisher, a granted subscription matching, read by the receiver. */
function predicted (acl: Authorizer): Set<string> {
  const out = new Set<string>()
  const ac = (id: Identity): AuthClient => ({ clientId: id.clientId, username: id.username, kind: 'network' })
  const ha = IDENTITIES[1]
  const receive = (id: Identity, topic: string, payload: string): void => {
    const granted = FILTERS.filter(f => acl.authorizeSubscribe(ac(id), f, 1) !== false)
    if (granted.some(f => matchTopic(f, topic)) && acl.authorizeRead?.(ac(id), topic) === true) out.add(`${id.name} <- ${payload}`)
  }
  for (const t of RETAINED) {
    if (acl.authorizePublish({ ...ac(ha), clientId: 'retainer' }, t, 1) !== true) continue
    for (const id of IDENTITIES) receive(id, t, `retained|${t}`)
  }
  for (const p of IDENTITIES) {
    for (const t of TOPICS) {
      if (acl.authorizePublish(ac(p), t, 1) !== true) continue
      for (const id of IDENTITIES) receive(id, t, `${p.name}|${t}`)
    }
  }
  return out
}

const diff = (a: Set<string>, b: Set<string>): string[] => [...a].filter(x => !b.has(x)).sort()

describe('access: against a real Mosquitto (mosquitto_passwd, password_file, acl_file)', function () {
  this.timeout(90000)
  const children = new Children()
  let dir: string
  let pwFile: string
  let aclFile: string
  let brokers: Broker[] = []

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'hearth-access-mosq-'))
    chmodSync(dir, 0o755) // Mosquitto started as root drops to the "mosquitto" user before reading the files
    pwFile = join(dir, 'passwd')
    aclFile = join(dir, 'acl')
    requireTool('mosquitto')
    const users = Object.entries(PASSWORDS)
    mosquittoPasswd(['-c', '-b', pwFile, users[0][0], users[0][1]])
    for (const [u, p] of users.slice(1)) mosquittoPasswd(['-b', pwFile, u, p])
    mosquittoPasswd(['-H', 'sha512', '-b', pwFile, 'legacy', 'old pw']) // $6$, as Mosquitto 1.x wrote
    writeFileSync(aclFile, ACL)
  })

  afterEach(async function () {
    await children.killAll()
    await Promise.all(brokers.map(b => b.close()))
    brokers = []
  })

  after(function () {
    rmSync(dir, { recursive: true, force: true })
  })

  it('a password file written by mosquitto_passwd ($7$ and -H sha512 $6$) verifies in Hearth; wrong passwords do not', async function () {
    const text = readFileSync(pwFile, 'utf8')
    assert.match(text, /^homeassistant:\$7\$101\$/m, 'mosquitto_passwd 2.0 writes $7$ with 101 iterations')
    assert.match(text, /^legacy:\$6\$/m)
    const entries = await loadPasswordFile(pwFile)
    assert.deepEqual(entries.map(e => e.username), [...Object.keys(PASSWORDS), 'legacy'])
    const auth = new PasswordAuthenticator({ passwordFile: entries })
    const ask = async (username: string, password: string): Promise<boolean> => {
      const r = await auth.authenticate({ clientId: 'c', username, password: Buffer.from(password), protocolVersion: 5, kind: 'network' })
      return typeof r === 'boolean' ? r : r.ok
    }
    for (const [u, p] of [...Object.entries(PASSWORDS), ['legacy', 'old pw']]) {
      assert.equal(await ask(u, p), true, `${u} with the right password`)
      assert.equal(await ask(u, `${p}x`), false, `${u} with a wrong password`)
      assert.equal(await ask(u, p.toUpperCase() === p ? p.toLowerCase() : p.toUpperCase()), false, `${u} with the case changed`)
    }
  })

  it("Hearth's $7$ hashes (default 210000 and 101 iterations) verify in a real Mosquitto; wrong passwords are refused", async function () {
    const file = join(dir, 'hearth-passwd')
    writeFileSync(file, formatPasswordFile([
      { username: 'strong', hash: await hashPassword('strong pw ✓') },
      { username: 'light', hash: await hashPassword('light', { iterations: 101 }) },
    ]))
    const m = await startMosquitto(children, dir, { passwordFile: file }, false)
    assert.deepEqual(pub(m.port, 'strong', 'strong pw ✓').code, 0)
    assert.deepEqual(pub(m.port, 'light', 'light').code, 0)
    for (const [u, p] of [['strong', 'strong pw'], ['light', 'Light'], ['nobody', 'light']]) {
      const r = pub(m.port, u, p)
      assert.notEqual(r.code, 0, `${u}/${p} must be refused`)
      assert.match(r.err, /not authori[sz]ed/i)
    }
    await m.stop()
  })

  it('the household ACL: what Mosquitto delivers is what Hearth decides (publish, subscribe, read), retained messages included', async function () {
    const m = await startMosquitto(children, dir, { passwordFile: pwFile, aclFile }, true)
    const seen = await runScenario(m.port)
    await m.stop()
    const want = predicted(new AclAuthorizer(parseAclFile(ACL)))
    assert.ok(seen.size >= 30, `Mosquitto delivered ${seen.size} messages`)
    assert.deepEqual({ onlyMosquitto: diff(seen, want), onlyHearth: diff(want, seen) }, { onlyMosquitto: [], onlyHearth: [] })
    // a few of the cases that matter, stated outright
    for (const d of ['dashboard <- homeassistant|home/kitchen/temp', 'plug1 <- homeassistant|home/plug/plug1/set', 'homeassistant <- plug1|lock/override',
      'sensor (client id "kitchen") <- sensor (client id "kitchen")|devices/kitchen/x', 'dashboard <- retained|$custom/dash', 'anonymous <- homeassistant|weather/now']) assert.ok(seen.has(d), d)
    for (const d of ['dashboard <- homeassistant|home/kitchen/secret', 'plug1 <- homeassistant|home/plug/plug2/set', 'homeassistant <- plug2|home/plug/plug1/state',
      'plug1 with client id "evil+1" (no pattern rules) <- homeassistant|home/plug/plug1/set', 'plug2 <- homeassistant|home/plug/plug2/set', 'dashboard <- retained|home/kitchen/secret', 'plug2 <- homeassistant|lock/front/state']) assert.ok(!seen.has(d), d)
  })

  it('the household ACL through a live Hearth broker delivers exactly what Mosquitto delivers', async function () {
    const m = await startMosquitto(children, dir, { passwordFile: pwFile, aclFile }, true)
    const seen = await runScenario(m.port)
    await m.stop()
    const broker = createBroker({
      authenticate: new PasswordAuthenticator({ passwordFile: await loadPasswordFile(pwFile) }, { allowAnonymous: true }),
      authorize: new AclAuthorizer(parseAclFile(ACL)),
    })
    brokers.push(broker)
    const { port } = await broker.listen({ port: 0, host: HOST })
    const hearth = await runScenario(port)
    assert.ok(hearth.size >= 30, `Hearth delivered ${hearth.size} messages`)
    assert.deepEqual({ onlyMosquitto: diff(seen, hearth), onlyHearth: diff(hearth, seen) }, { onlyMosquitto: [], onlyHearth: [] })
  })
})
