// hearth-broker: users stored as $7$ hashes in the node's credentials (typed passwords hashed by the
// runtime, imported hashes taken as they are, the old single account carried over), the Mosquitto ACL
// table checked on publish, subscribe, every delivery and wills, and the open-broker status, in
// Node-RED 4.1 with MQTT.js clients and in-process connection nodes.
import assert from 'node:assert/strict'
import type { MqttClient, Packet } from 'mqtt'
import { hashPassword, verifyPassword } from '../../src/broker'
import { brokerFlow, currentFlow } from './flows/broker.flows'
import { connection, helperNode, publish, subscribe } from './flows/client.flows'
import { catchNode, caughtText, collect, connectClient, endClient, errors, hearthNodes, helper, lastStatus, logged, nextMessage, waitFor } from './support'

const nodes = [...hearthNodes, catchNode]

async function brokerPort (id = 'broker'): Promise<number> {
  const n = helper.getNode(id)
  await n.ready
  assert.ok(n.port, `broker ${id} is not listening: ${String(n.failure)}`)
  return n.port as number
}

/** The CONNACK reason code of a refused connection, or undefined when it connected (the client is kept for cleanup). */
async function refusal (port: number, options: Parameters<typeof connectClient>[1], keep: MqttClient[]): Promise<number | undefined> {
  const err = await connectClient(port, options).then((c) => { keep.push(c); return undefined }, (e: { code?: number }) => e)
  return err?.code
}

/** The SUBACK reason codes for one SUBSCRIBE (MQTT.js rejects a refusal; the codes are what matters). */
function subackCodes (c: MqttClient, topics: string[]): Promise<number[]> {
  return new Promise((resolve) => {
    const onPacket = (p: Packet): void => {
      if (p.cmd !== 'suback') return
      c.off('packetreceive', onPacket)
      resolve(p.granted as number[])
    }
    c.on('packetreceive', onPacket)
    c.subscribe(topics, { qos: 1 }, () => {})
  })
}

const storedHashes = (id = 'broker'): Record<string, string> => JSON.parse(String(helper.credentials.get(id)?.userHashes ?? '{}')) as Record<string, string>

describe('hearth-broker node: users and ACL', function () {
  this.timeout(30000)
  let clients: MqttClient[] = []

  afterEach(async function () {
    await Promise.all(clients.map(endClient))
    clients = []
    await helper.unload()
  })

  it('a typed password is hashed ($7$, 210000 iterations) into the credentials and its plain text dropped; an imported hash is kept as it is; both users log in', async function () {
    const imported = await hashPassword('bob-pw', { iterations: 1000 })
    const newPasswords = JSON.stringify({ alice: { password: 'alice-pw' }, bob: { hash: imported } })
    await helper.load(nodes, currentFlow({ usernames: ['alice', 'bob'] }), { broker: { newPasswords } })
    const port = await brokerPort()
    const creds = helper.credentials.get('broker') as Record<string, unknown>
    assert.deepEqual(Object.keys(creds), ['userHashes'])
    const hashes = storedHashes()
    assert.deepEqual(Object.keys(hashes), ['alice', 'bob'])
    assert.match(hashes.alice, /^\$7\$210000\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/)
    assert.equal(await verifyPassword('alice-pw', hashes.alice), true)
    assert.equal(hashes.bob, imported)
    assert.doesNotMatch(JSON.stringify(creds), /alice-pw/)

    assert.equal(await refusal(port, { protocolVersion: 5, username: 'alice', password: 'alice-pw' }, clients), undefined)
    assert.equal(await refusal(port, { protocolVersion: 5, username: 'bob', password: 'bob-pw' }, clients), undefined)
    assert.equal(await refusal(port, { protocolVersion: 5, username: 'alice', password: 'bob-pw' }, clients), 0x86)
    assert.equal(await refusal(port, { protocolVersion: 4, username: 'carol', password: 'x' }, clients), 4)
    // Anonymous clients are still allowed (the default).
    assert.equal(await refusal(port, { protocolVersion: 5 }, clients), undefined)
  })

  it('a redeploy keeps the stored hashes; a user taken off the list loses its hash and is refused', async function () {
    await helper.load(nodes, currentFlow({ usernames: ['alice', 'bob'] }), { broker: { newPasswords: JSON.stringify({ alice: { password: 'a1' }, bob: { password: 'b1' } }) } })
    await brokerPort()
    const first = storedHashes()
    await helper.setFlows(currentFlow({ usernames: ['alice', 'bob'], name: 'again' }), 'full')
    let port = await brokerPort()
    assert.deepEqual(storedHashes(), first)
    assert.equal(await refusal(port, { username: 'bob', password: 'b1' }, clients), undefined)
    await Promise.all(clients.map(endClient))
    clients = []
    await helper.setFlows(currentFlow({ usernames: ['alice'] }), 'full')
    port = await brokerPort()
    assert.deepEqual(storedHashes(), { alice: first.alice })
    assert.equal(await refusal(port, { protocolVersion: 5, username: 'bob', password: 'b1' }, clients), 0x86)
    assert.equal(await refusal(port, { protocolVersion: 5, username: 'alice', password: 'a1' }, clients), undefined)
  })

  it('a redeploy while the previous node still hashes: the new deploy\'s passwords are kept, the earlier ones hashed too', async function () {
    const first = ['u1', 'u2', 'u3', 'u4', 'u5']
    await helper.load(nodes, currentFlow({ usernames: first }), { broker: { newPasswords: JSON.stringify(Object.fromEntries(first.map((u) => [u, { password: `${u}-pw` }]))) } })
    // Five PBKDF2 hashes take a while: deploy again at once, with one more user and its password.
    const flow = currentFlow({ usernames: [...first, 'late'] })
    ;(flow[1] as Record<string, unknown>).credentials = { newPasswords: JSON.stringify({ late: { password: 'late-pw' } }) }
    await helper.setFlows(flow, 'full')
    const port = await brokerPort()
    assert.deepEqual(Object.keys(storedHashes()).sort(), [...first, 'late'].sort())
    assert.equal(await refusal(port, { username: 'late', password: 'late-pw' }, clients), undefined)
    assert.equal(await refusal(port, { username: 'u3', password: 'u3-pw' }, clients), undefined)
  })

  for (const [what, users, newPasswords, key] of [
    ['a user without a password', ['alice'], undefined, 'hearth-broker.errors.no-password'],
    ['a user with an empty password', ['alice'], { alice: { password: '' } }, 'hearth-broker.errors.empty-password'],
    ['an imported hash that is not one', ['alice'], { alice: { hash: '$7$101$short$x' } }, 'hearth-broker.errors.bad-hash'],
    ['a user name with a colon', ['a:b'], { 'a:b': { password: 'x' } }, 'hearth-broker.errors.bad-user-name'],
    ['a user listed twice', ['alice', 'alice'], { alice: { password: 'x' } }, 'hearth-broker.errors.duplicate-user'],
  ] as const) {
    it(`refuses ${what}: red ring, one error saying what to fix, nothing listening`, async function () {
      const creds: Record<string, object> = newPasswords === undefined ? {} : { broker: { newPasswords: JSON.stringify(newPasswords) } }
      await helper.load(nodes, currentFlow({ usernames: users }), creds)
      const n = helper.getNode('broker')
      await n.ready
      assert.equal(n.broker, undefined)
      assert.equal(n.port, undefined)
      assert.deepEqual(lastStatus('broker'), { fill: 'red', shape: 'ring', text: key })
      assert.deepEqual(errors('broker'), [key])
    })
  }

  it('a flow saved before the users table: its account becomes the first user, hashed; the old credentials are dropped; a redeploy of the same flow keeps it', async function () {
    await helper.load(nodes, brokerFlow({ allowAnonymous: false }), { broker: { username: 'u', password: 'p' } })
    let port = await brokerPort()
    assert.deepEqual(Object.keys(helper.credentials.get('broker') ?? {}), ['userHashes'])
    assert.equal(await verifyPassword('p', storedHashes().u), true)
    assert.equal(await refusal(port, { protocolVersion: 5, username: 'u', password: 'p' }, clients), undefined)
    assert.equal(await refusal(port, { protocolVersion: 5 }, clients), 0x87)
    await Promise.all(clients.map(endClient))
    clients = []
    await helper.setFlows(brokerFlow({ allowAnonymous: false, name: 'again' }), 'full')
    port = await brokerPort()
    assert.equal(await refusal(port, { protocolVersion: 5, username: 'u', password: 'p' }, clients), undefined)
  })

  describe('ACL', function () {
    // Anonymous clients read the weather; alice reads and writes home/ but not home/secret/;
    // every device writes its own state and reads its own commands (by client id).
    const acl = [
      { who: 'anonymous', access: 'read', topic: 'weather/#' },
      { who: 'user', user: 'alice', access: 'readwrite', topic: 'home/#' },
      { who: 'user', user: 'alice', access: 'deny', topic: 'home/secret/#' },
      { who: 'pattern', access: 'write', topic: 'devices/%c/state' },
      { who: 'pattern', access: 'read', topic: 'devices/%c/set' },
    ]
    const aclFlow = (extra: object[] = [], connectionProps: Record<string, unknown> = {}): object[] => currentFlow(
      { usernames: ['alice'], aclEnabled: true, acl, wires: [['events']] },
      [connection({ clientId: 'flows', ...connectionProps }), subscribe({ topic: '#', qos: '1' }, 'sub', 'out'), helperNode('out'), ...extra],
    )
    const aliceCreds = { broker: { newPasswords: JSON.stringify({ alice: { password: 'alice-pw' } }) } }

    it('publish, subscribe and every delivery follow the rules; a trusted in-process subscriber sees only what was allowed', async function () {
      await helper.load(nodes, aclFlow(), aliceCreds)
      const port = await brokerPort()
      const trusted: string[] = []
      helper.getNode('out').on('input', (msg: { topic: string, payload: unknown }) => trusted.push(`${msg.topic}=${String(msg.payload)}`))
      await waitFor(() => helper.getNode('broker').broker?.clients().some((c: { clientId: string }) => c.clientId === 'flows'), 5000, 'the in-process subscriber')

      const seen = (who: string[]) => (t: string, p: Buffer) => who.push(`${t}=${p.toString()}`)
      const anonSeen: string[] = []
      const aliceSeen: string[] = []
      const anon = await connectClient(port, { protocolVersion: 5, clientId: 'anon1' }, seen(anonSeen))
      const alice = await connectClient(port, { protocolVersion: 5, clientId: 'alice1', username: 'alice', password: 'alice-pw' }, seen(aliceSeen))
      const plugSeen: string[] = []
      const plug = await connectClient(port, { protocolVersion: 5, clientId: 'plug1' }, seen(plugSeen))
      clients.push(anon, alice, plug)

      // SUBSCRIBE: a filter under which nothing may be read is refused (0x87).
      assert.deepEqual(await subackCodes(anon, ['weather/#', 'home/#', '#']), [1, 0x87, 1])
      assert.deepEqual(await subackCodes(alice, ['#', 'home/secret/#']), [1, 0x87])
      assert.deepEqual(await subackCodes(plug, ['#', 'devices/plug2/#']), [1, 0x87])

      // PUBLISH: write access needed (MQTT 5: PUBACK 0x87).
      const puback = (c: MqttClient, topic: string): Promise<number> =>
        c.publishAsync(topic, 'x', { qos: 1 }).then((p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0, (e: { code: number }) => e.code)
      assert.equal(await puback(anon, 'weather/now'), 0x87)
      assert.equal(await puback(plug, 'devices/plug2/state'), 0x87)
      assert.equal(await puback(plug, 'devices/plug1/state'), 0)
      assert.equal(await puback(alice, 'home/lamp'), 0)
      assert.equal(await puback(alice, 'home/secret/door'), 0x87) // deny takes write access away too

      // The broker itself publishes what nobody here may write: deliveries are filtered by read access.
      const n = helper.getNode('broker')
      for (const topic of ['weather/now', 'home/secret/code', 'devices/plug1/set']) {
        n.receive({ action: 'publish', topic, payload: 'b', qos: 1 })
      }
      await waitFor(() => trusted.includes('devices/plug1/set=b'), 5000, 'the last message at the trusted subscriber')
      await new Promise((resolve) => setTimeout(resolve, 200))
      assert.deepEqual(trusted.sort(), ['devices/plug1/set=b', 'devices/plug1/state=x', 'home/lamp=x', 'home/secret/code=b', 'weather/now=b'])
      assert.deepEqual(anonSeen, ['weather/now=b'])
      assert.deepEqual(aliceSeen, ['home/lamp=x'])
      // plug1 gave no user name: it reads what anonymous clients read, and its own commands by pattern.
      assert.deepEqual(plugSeen, ['weather/now=b', 'devices/plug1/set=b'])
    })

    it('wills are checked: an allowed will is published, a will on a topic the client may not write is dropped (not-authorized)', async function () {
      await helper.load(nodes, aclFlow(), aliceCreds)
      const port = await brokerPort()
      const trusted: string[] = []
      helper.getNode('out').on('input', (msg: { topic: string, payload: unknown }) => trusted.push(`${msg.topic}=${String(msg.payload)}`))
      await waitFor(() => helper.getNode('broker').broker?.clients().some((c: { clientId: string }) => c.clientId === 'flows'), 5000, 'the in-process subscriber')
      const events = collect('events')
      const good = await connectClient(port, { clientId: 'plug1', will: { topic: 'devices/plug1/state', payload: Buffer.from('offline'), qos: 1, retain: false } })
      const bad = await connectClient(port, { clientId: 'plug2', will: { topic: 'home/lamp', payload: Buffer.from('hijack'), qos: 1, retain: false } })
      good.stream.destroy()
      bad.stream.destroy()
      await waitFor(() => trusted.includes('devices/plug1/state=offline'), 5000, 'the allowed will')
      const dropped = await waitFor(() => events.find((m) => m.topic === 'messageDropped'), 5000, 'the dropped will')
      assert.equal(dropped.payload.topic, 'home/lamp')
      assert.equal(dropped.payload.reason, 'not-authorized')
      assert.ok(!trusted.some((m) => m.startsWith('home/lamp')))
    })

    it('an in-process connection node that gives a user name is checked like any client', async function () {
      const flow = aclFlow([
        publish({ topic: '', qos: '1' }, 'pub'),
        { id: 'catch', type: 'catch', z: 'f1', x: 100, y: 100, scope: ['pub'], uncaught: false, wires: [['caught']] },
        helperNode('caught'),
      ])
      // The publish node goes through a second connection, as alice.
      const asAlice = { ...connection({ clientId: 'alice-flows' }, 'conn2') }
      ;(flow.find((n) => (n as { id: string }).id === 'pub') as Record<string, unknown>).connection = 'conn2'
      await helper.load(nodes, [...flow, asAlice], { ...aliceCreds, conn2: { username: 'alice', password: 'alice-pw' } })
      await brokerPort()
      const trusted: string[] = []
      helper.getNode('out').on('input', (msg: { topic: string }) => trusted.push(msg.topic))
      await waitFor(() => helper.getNode('broker').broker?.clients().some((c: { clientId: string }) => c.clientId === 'flows'), 5000, 'the in-process subscriber')
      await waitFor(() => helper.getNode('broker').broker?.clients().some((c: { clientId: string, username?: string }) => c.clientId === 'alice-flows' && c.username === 'alice'), 5000, 'the connection node as alice')
      const caught = nextMessage('caught', 5000)
      helper.getNode('pub').receive({ topic: 'weather/now', payload: 'x' })
      assert.match(caughtText(await caught), /^hearth-publish\.errors\./)
      helper.getNode('pub').receive({ topic: 'home/lamp', payload: 'on' })
      await waitFor(() => trusted.includes('home/lamp'), 5000, 'the allowed publish')
      assert.ok(!trusted.includes('weather/now'))
    })

    for (const [what, row, key] of [
      ['a topic filter with # inside', { who: 'anonymous', access: 'read', topic: 'a/#/b' }, 'hearth-broker.errors.acl-bad-topic'],
      ['a user row without a user', { who: 'user', user: '', access: 'read', topic: 'a' }, 'hearth-broker.errors.acl-no-user'],
      ['no topic', { who: 'pattern', access: 'read', topic: ' ' }, 'hearth-broker.errors.acl-no-topic'],
      ['an unknown access', { who: 'anonymous', access: 'all', topic: 'a' }, 'hearth-broker.errors.bad-acl-row'],
    ] as const) {
      it(`a bad ACL row (${what}): red ring naming the row`, async function () {
        await helper.load(nodes, currentFlow({ aclEnabled: true, acl: [{ who: 'anonymous', access: 'read', topic: 'ok' }, row] }))
        const n = helper.getNode('broker')
        await n.ready
        assert.equal(n.broker, undefined)
        assert.deepEqual(lastStatus('broker'), { fill: 'red', shape: 'ring', text: key })
      })
    }
  })

  describe('open broker', function () {
    it('every interface, anonymous clients allowed, no ACL: a yellow status ending in "open" and one log line saying what to set', async function () {
      await helper.load(nodes, currentFlow({ listeners: [{ kind: 'mqtt', port: '0', host: '' }] }))
      await brokerPort()
      assert.deepEqual(lastStatus('broker'), { fill: 'yellow', shape: 'dot', text: 'hearth-broker.status.listening · hearth-broker.status.open' })
      assert.deepEqual(logged('broker', 'log').filter((l) => l.includes('open')), ['hearth-broker.warnings.open'])
    })

    for (const [what, options] of [
      ['with an ACL', { aclEnabled: true, acl: [{ who: 'anonymous', access: 'read', topic: 'weather/#' }] }],
      ['with anonymous clients refused', { allowAnonymous: false, usernames: ['alice'] }],
      ['on 127.0.0.1 only', { listeners: [{ kind: 'mqtt', port: '0', host: '127.0.0.1' }] }],
    ] as const) {
      it(`not open ${what}: green status, no log line`, async function () {
        const creds: Record<string, object> = 'usernames' in options ? { broker: { newPasswords: JSON.stringify({ alice: { password: 'x' } }) } } : {}
        await helper.load(nodes, currentFlow({ listeners: [{ kind: 'mqtt', port: '0', host: '' }], ...options }), creds)
        await brokerPort()
        assert.deepEqual(lastStatus('broker'), { fill: 'green', shape: 'dot', text: 'hearth-broker.status.listening' })
        assert.deepEqual(logged('broker', 'log').filter((l) => l.includes('open')), [])
      })
    }
  })
})
