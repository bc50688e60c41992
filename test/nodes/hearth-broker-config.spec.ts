// hearth-broker: config parsing (listeners, migration of flows saved before listeners), the limits and
// their ranges taken from the core's INTEGER_OPTIONS, and the limits reaching the running broker
// (seen in an MQTT 5 CONNACK, and in refused connections), in Node-RED 4.1.
import assert from 'node:assert/strict'
import type { MqttClient } from 'mqtt'
import { INTEGER_OPTIONS } from '../../src/broker'
import { parseBrokerConfig } from '../../src/nodes/hearth-broker/config'
import { isLoopback } from '../../src/nodes/hearth-broker/exposure'
import { LIMIT_KEYS } from '../../src/nodes/hearth-broker/types'
import { currentFlow } from './flows/broker.flows'
import { connectClient, endClient, hearthNodes, helper, lastStatus } from './support'

const parse = (config: Record<string, unknown>): ReturnType<typeof parseBrokerConfig> => parseBrokerConfig(config)

describe('hearth-broker node: config and limits', function () {
  describe('limits from the core', function () {
    it('the node exposes every integer option of the core, and no other', function () {
      assert.deepEqual([...LIMIT_KEYS, 'maximumQoS'].sort(), Object.keys(INTEGER_OPTIONS).sort())
    })

    for (const key of [...LIMIT_KEYS, 'maximumQoS'] as const) {
      const { min, max } = INTEGER_OPTIONS[key]
      it(`${key}: accepts ${min} and ${max}, refuses ${min > 0 ? `${min - 1} and ` : ''}${max + 1} naming the core's range; empty is the core's default`, function () {
        for (const ok of [min, max, String(max)]) {
          const r = parse({ [key]: ok })
          assert.ok(r.ok, `${key}=${ok}: ${JSON.stringify(r)}`)
          assert.equal((r.config.options as Record<string, unknown>)[key], Number(ok))
        }
        for (const bad of [...(min > 0 ? [min - 1] : []), max + 1, '1.5', 'x']) {
          const r = parse({ [key]: bad })
          assert.deepEqual(r, { ok: false, problem: { key: 'bad-number', subs: { option: key, value: String(bad), min, max } } })
        }
        const empty = parse({ [key]: '' })
        assert.ok(empty.ok)
        // maximumQoS is always passed (the node's select); the others are left to the core.
        if (key !== 'maximumQoS') assert.equal((empty.config.options as Record<string, unknown>)[key], undefined)
      })
    }

    it('a packet size of 16 to 63 bytes is refused, as the core refuses it', function () {
      for (const v of [16, 63]) assert.equal(parse({ maxPacketSize: v }).ok, false)
      assert.equal(parse({ maxPacketSize: 64 }).ok, true)
    })
  })

  describe('listeners', function () {
    it('a flow saved before listeners existed: its port and bind address are its one TCP listener', function () {
      const r = parse({ port: '1884', host: '0.0.0.0' })
      assert.ok(r.ok)
      assert.deepEqual(r.config.listeners, [{ kind: 'mqtt', number: 1, port: 1884, host: '0.0.0.0', path: undefined, requireCertificate: false, useIdentityAsUsername: false, trustProxy: false }])
      const bare = parse({})
      assert.ok(bare.ok)
      assert.deepEqual(bare.config.listeners.map((l) => [l.kind, l.port, l.host]), [['mqtt', 1883, undefined]])
    })

    it('every kind, with the options that apply to it only', function () {
      const r = parse({
        tls: 'tls1',
        listeners: [
          { kind: 'mqtt', port: '1883', host: '', path: '/ignored', trustProxy: true, requireCertificate: true },
          { kind: 'mqtts', port: 8883, host: '::', requireCertificate: true, useIdentityAsUsername: true },
          { kind: 'ws', port: '9001', host: '127.0.0.1', path: '', trustProxy: true },
          { kind: 'wss', port: '9002', path: 'mqtt', useIdentityAsUsername: true },
          { kind: 'nodered', port: 'unused', host: 'unused', path: '/mqtt', trustProxy: true },
        ],
      })
      assert.ok(r.ok, JSON.stringify(r))
      assert.deepEqual(r.config.listeners, [
        { kind: 'mqtt', number: 1, port: 1883, host: undefined, path: undefined, requireCertificate: false, useIdentityAsUsername: false, trustProxy: false },
        { kind: 'mqtts', number: 2, port: 8883, host: '::', path: undefined, requireCertificate: true, useIdentityAsUsername: true, trustProxy: false },
        { kind: 'ws', number: 3, port: 9001, host: '127.0.0.1', path: undefined, requireCertificate: false, useIdentityAsUsername: false, trustProxy: true },
        // the CN needs a required certificate
        { kind: 'wss', number: 4, port: 9002, host: undefined, path: '/mqtt', requireCertificate: false, useIdentityAsUsername: false, trustProxy: false },
        { kind: 'nodered', number: 5, port: 0, host: undefined, path: '/mqtt', requireCertificate: false, useIdentityAsUsername: false, trustProxy: true },
      ])
    })

    for (const [what, config, problem] of [
      ['no listener', { listeners: [] }, { key: 'no-listener', subs: {} }],
      ['an unknown kind', { listeners: [{ kind: 'udp', port: 1 }] }, { key: 'bad-listener-kind', subs: { number: 1, kind: 'udp' } }],
      ['a port out of range', { listeners: [{ kind: 'mqtt', port: 1883 }, { kind: 'ws', port: 70000 }] }, { key: 'bad-number', subs: { option: 'listener 2 port', value: '70000', min: 0, max: 65535 } }],
      ['no port', { listeners: [{ kind: 'mqtt', port: '' }] }, { key: 'bad-number', subs: { option: 'listener 1 port', value: 'undefined', min: 0, max: 65535 } }],
      ['a bad bind address', { listeners: [{ kind: 'mqtt', port: 1, host: 'a b' }] }, { key: 'bad-host', subs: { host: 'a b' } }],
      ['a WebSocket path with a blank', { listeners: [{ kind: 'ws', port: 1, path: 'mq tt' }] }, { key: 'bad-path', subs: { number: 1, path: '/mq tt' } }],
      ['a WebSocket path with a query', { listeners: [{ kind: 'nodered', path: '/mqtt?x=1' }] }, { key: 'bad-path', subs: { number: 1, path: '/mqtt?x=1' } }],
      ['Node-RED\'s port without a path', { listeners: [{ kind: 'nodered', path: '' }] }, { key: 'path-required', subs: { number: 1 } }],
      ['TLS without a TLS config', { listeners: [{ kind: 'mqtt', port: 1 }, { kind: 'wss', port: 2 }] }, { key: 'tls-required', subs: { number: 2, kind: 'wss' } }],
      ['17 listeners', { listeners: Array.from({ length: 17 }, (_, i) => ({ kind: 'mqtt', port: i + 1 })) }, { key: 'too-many-listeners', subs: { max: 16 } }],
    ] as const) {
      it(`refuses ${what}`, function () {
        assert.deepEqual(parse(config as Record<string, unknown>), { ok: false, problem })
      })
    }

    it('loopback addresses: 127.x, ::1, localhost, IPv4-mapped; every interface and LAN addresses are not', function () {
      for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) assert.equal(isLoopback(h), true, h)
      for (const h of [undefined, '', '0.0.0.0', '::', '192.168.1.10', 'fe80::1', 'pi.local', '128.0.0.1']) assert.equal(isLoopback(h), false, String(h))
    })
  })

  describe('limits in the running broker', function () {
    let clients: MqttClient[] = []
    afterEach(async function () {
      await Promise.all(clients.map(endClient))
      clients = []
      await helper.unload()
    })

    async function startWith (options: Record<string, unknown>): Promise<number> {
      await helper.load(hearthNodes, currentFlow(options))
      const n = helper.getNode('broker')
      await n.ready
      assert.ok(n.port, String(n.failure))
      return n.port as number
    }

    it('a node with no limit set runs with the core\'s defaults (MQTT 5 CONNACK: packet size, receive maximum, topic aliases)', async function () {
      const port = await startWith({})
      const connack = await connackOf(port)
      assert.equal(connack.maximumPacketSize, INTEGER_OPTIONS.maxPacketSize.default)
      assert.equal(connack.receiveMaximum, INTEGER_OPTIONS.receiveMaximum.default)
      assert.equal(connack.topicAliasMaximum, INTEGER_OPTIONS.topicAliasMaximum.default)
    })

    it('limits set on the node reach the broker; maxConnections closes the connection beyond it', async function () {
      const port = await startWith({ maxPacketSize: '4096', receiveMaximum: '5', topicAliasMaximum: '3', maxConnections: '2' })
      const connack = await connackOf(port)
      assert.deepEqual([connack.maximumPacketSize, connack.receiveMaximum, connack.topicAliasMaximum], [4096, 5, 3])
      clients.push(await connectClient(port, { protocolVersion: 5 }))
      // Two connected: a third socket is closed before it can send CONNECT.
      const mqtt = await import('mqtt')
      const third = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 })
      clients.push(third)
      const outcome = await new Promise<string>((resolve) => {
        third.once('connect', () => resolve('connected'))
        third.once('close', () => resolve('closed'))
      })
      assert.equal(outcome, 'closed')
    })

    it('a limit out of the core\'s range: red ring, nothing listening', async function () {
      await helper.load(hearthNodes, currentFlow({ maxPacketSize: '63' }))
      const n = helper.getNode('broker')
      await n.ready
      assert.equal(n.port, undefined)
      assert.deepEqual(lastStatus('broker'), { fill: 'red', shape: 'ring', text: 'hearth-broker.errors.bad-number' })
    })

    /** Connect an MQTT 5 client and return its CONNACK properties. */
    async function connackOf (port: number): Promise<Record<string, number>> {
      const mqtt = await import('mqtt')
      const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0 })
      clients.push(c)
      const connack = await new Promise<{ properties?: Record<string, number> }>((resolve, reject) => {
        c.once('connect', (p) => resolve(p as { properties?: Record<string, number> }))
        c.once('error', reject)
      })
      return connack.properties ?? {}
    }
  })
})
