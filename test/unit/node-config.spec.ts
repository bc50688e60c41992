// Config parsing of the Node-RED nodes: hearth-broker (src/nodes/hearth-broker/config.ts) and
// hearth-connection (src/nodes/hearth-connection/options.ts). Each case states the whole result.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { UserTableAuthenticator } from '../../src/broker/auth'
import { parseBrokerConfig, type ParsedConfig } from '../../src/nodes/hearth-broker/config'
import { DEFAULTS, LIMITS, parseIntIn } from '../../src/nodes/hearth-broker/types'
import { parseConnection } from '../../src/nodes/hearth-connection/options'

/** The parsed broker config with the authenticator replaced by what it decides. */
function brokerView (r: ParsedConfig): unknown {
  if (!r.ok) return r
  const { authenticate, ...options } = r.options
  assert.ok(authenticate instanceof UserTableAuthenticator)
  const ask = (username: string | undefined, password: string | undefined, kind: 'network' | 'local'): boolean =>
    (authenticate.authenticate({ clientId: 'c', username, password: password === undefined ? undefined : Buffer.from(password), protocolVersion: 4, kind }) as { ok: boolean }).ok
  return {
    ...r,
    options: {
      ...options,
      auth: {
        anonymousNetwork: ask(undefined, undefined, 'network'),
        anonymousLocal: ask(undefined, undefined, 'local'),
        alicePw: ask('alice', 'pw', 'network'),
        aliceWrong: ask('alice', 'nope', 'network'),
        bob: ask('bob', 'pw', 'network'),
      },
    },
  }
}

const defaultOptions = {
  protocols: [3, 4, 5],
  maxConnections: 10000,
  maxPacketSize: 268435455,
  maxInflight: 100,
  maxQueuedMessages: 1000,
  maxKeepalive: 0,
  maximumQoS: 2,
  retainAvailable: true,
}

describe('unit: node config parsing', function () {
  describe('hearth-broker', function () {
    it('an empty config gives the documented defaults, no account: everyone is let in', function () {
      assert.deepEqual(brokerView(parseBrokerConfig({}, {})), {
        ok: true,
        port: 1883,
        host: '0.0.0.0',
        options: { ...defaultOptions, auth: { anonymousNetwork: true, anonymousLocal: true, alicePw: true, aliceWrong: true, bob: true } },
        persistence: { enabled: true, dir: '', syncMode: 'always', flushInterval: 1000 },
      })
    })

    it('form values as strings are parsed; protocols, retain, persistence and an account are applied', function () {
      const r = parseBrokerConfig({
        port: ' 1884 ', host: ' 127.0.0.1 ', mqtt31: false, mqtt311: 'true' as unknown as boolean, mqtt5: true, allowAnonymous: false,
        maxConnections: '5', maxPacketSize: '1024', maxInflight: '10', maxQueuedMessages: '0', maxKeepalive: '60', maximumQoS: '1',
        retainAvailable: 'false' as unknown as boolean, persistence: false, persistenceDir: ' data ', persistenceSync: 'periodic', persistenceFlushInterval: '250',
      }, { username: 'alice', password: 'pw' })
      assert.deepEqual(brokerView(r), {
        ok: true,
        port: 1884,
        host: '127.0.0.1',
        options: {
          protocols: [4, 5], maxConnections: 5, maxPacketSize: 1024, maxInflight: 10, maxQueuedMessages: 0, maxKeepalive: 60, maximumQoS: 1,
          retainAvailable: false,
          auth: { anonymousNetwork: false, anonymousLocal: true, alicePw: true, aliceWrong: false, bob: false },
        },
        persistence: { enabled: false, dir: 'data', syncMode: 'periodic', flushInterval: 250 },
      })
    })

    it('every problem is named with its catalog key and values', function () {
      const cases: Array<[Parameters<typeof parseBrokerConfig>[0], Parameters<typeof parseBrokerConfig>[1], unknown]> = [
        [{ port: '65536' }, {}, { key: 'bad-number', subs: { option: 'port', value: '65536', min: 0, max: 65535 } }],
        [{ maxPacketSize: '15' }, {}, { key: 'bad-number', subs: { option: 'maxPacketSize', value: '15', min: 16, max: 268435455 } }],
        [{ maximumQoS: '1.5' }, {}, { key: 'bad-number', subs: { option: 'maximumQoS', value: '1.5', min: 0, max: 2 } }],
        [{ maxInflight: '-1' }, {}, { key: 'bad-number', subs: { option: 'maxInflight', value: '-1', min: 1, max: 65535 } }],
        [{ host: 'a b' }, {}, { key: 'bad-host', subs: { host: 'a b' } }],
        [{ mqtt31: false, mqtt311: false, mqtt5: false }, {}, { key: 'no-protocol', subs: {} }],
        [{ allowAnonymous: false }, {}, { key: 'no-user', subs: {} }],
        [{}, { username: 'alice' }, { key: 'empty-password', subs: { username: 'alice' } }],
        [{ persistenceSync: 'sometimes' as 'always' }, {}, { key: 'bad-sync', subs: { value: 'sometimes' } }],
      ]
      for (const [config, creds, problem] of cases) assert.deepEqual(parseBrokerConfig(config, creds), { ok: false, problem }, JSON.stringify(config))
    })

    it('property: every integer option accepts exactly the integers in its range, as number or string', function () {
      fc.assert(fc.property(fc.constantFrom(...LIMITS), fc.integer({ min: -10, max: 300000000 }), fc.boolean(), ([key, min, max], n, asString) => {
        const r = parseBrokerConfig({ [key]: asString ? String(n) : n }, {})
        if (n >= min && n <= max) {
          assert.ok(r.ok, `${key}=${n}`)
          const got = key === 'port' ? r.port : key === 'persistenceFlushInterval' ? r.persistence.flushInterval : (r.options as Record<string, unknown>)[key]
          assert.equal(got, n)
        } else {
          assert.deepEqual(r, { ok: false, problem: { key: 'bad-number', subs: { option: key, value: String(n), min, max } } })
        }
      }), { numRuns: 1000 })
    })

    it('parseIntIn: only plain decimal integers in range', function () {
      const table: Array<[unknown, number | undefined]> = [
        ['7', 7], [' 7 ', 7], [7, 7], ['007', 7], ['', undefined], ['7.0', undefined], ['1e3', undefined], ['-1', undefined],
        ['0x10', undefined], [7.5, undefined], [null, undefined], [undefined, undefined], [true, undefined], ['11', undefined],
      ]
      for (const [v, want] of table) assert.equal(parseIntIn(v, 0, 10), want, JSON.stringify(v))
      assert.equal(DEFAULTS.port, 1883)
    })
  })

  describe('hearth-connection', function () {
    it('defaults: MQTT 5, id from the node, clean, keep alive 60, session expiry 0, no will, birth or close', function () {
      assert.deepEqual(parseConnection({ id: 'n1' }, {}), {
        ok: true,
        protocolVersion: 5,
        options: { clientId: 'hearth-n1', protocolVersion: 5, clean: true, keepalive: 60, sessionExpiryInterval: 0 },
        birth: undefined,
        close: undefined,
      })
    })

    it('a full MQTT 5 config: credentials, will with delay and properties, birth and close messages', function () {
      const r = parseConnection({
        id: 'n2', clientId: ' dev-1 ', protocolVersion: '5', keepalive: '30', clean: 'false' as unknown as boolean, sessionExpiry: '3600',
        willTopic: 'dev/1/status', willPayload: 'offline', willQos: '1', willRetain: true, willDelay: '5',
        willContentType: 'text/plain', willResponseTopic: 'dev/1/reply', willExpiry: '60', willUserProperties: '{"a":"1","n":2}',
        birthTopic: 'dev/1/status', birthPayload: 'online', birthQos: 1, birthRetain: true,
        closeTopic: 'dev/1/status', closePayload: 'closing', closeQos: '0', closeRetain: 'false' as unknown as boolean,
      }, { username: 'u', password: 'p' })
      assert.deepEqual(r, {
        ok: true,
        protocolVersion: 5,
        options: {
          clientId: 'dev-1', protocolVersion: 5, clean: false, keepalive: 30, sessionExpiryInterval: 3600, username: 'u', password: 'p',
          will: {
            topic: 'dev/1/status', payload: Buffer.from('offline'), qos: 1, retain: true, delayInterval: 5,
            properties: { contentType: 'text/plain', responseTopic: 'dev/1/reply', messageExpiryInterval: 60, userProperties: { a: '1', n: '2' } },
          },
        },
        birth: { topic: 'dev/1/status', payload: Buffer.from('online'), qos: 1, retain: true },
        close: { topic: 'dev/1/status', payload: Buffer.from('closing'), qos: 0, retain: false },
      })
    })

    it('MQTT 3.1.1: no session expiry, and the will carries no MQTT 5 delay or properties', function () {
      assert.deepEqual(parseConnection({ id: 'n3', protocolVersion: 4, willTopic: 'w', willPayload: 'x', willDelay: '9', willContentType: 'c' }, { username: 'u' }), {
        ok: true,
        protocolVersion: 4,
        options: { clientId: 'hearth-n3', protocolVersion: 4, clean: true, keepalive: 60, username: 'u', will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false } },
        birth: undefined,
        close: undefined,
      })
    })

    it('every problem is named with its catalog key and values', function () {
      const cases: Array<[Record<string, unknown>, unknown]> = [
        [{ protocolVersion: '3' }, { key: 'bad-protocol', subs: { value: '3' } }],
        [{ keepalive: '65536' }, { key: 'bad-number', subs: { option: 'keepalive', value: '65536', min: 0, max: 65535 } }],
        [{ sessionExpiry: 'x' }, { key: 'bad-number', subs: { option: 'sessionExpiry', value: 'x', min: 0, max: 4294967295 } }],
        [{ willTopic: 'a/+' }, { key: 'bad-topic', subs: { kind: 'will', topic: 'a/+' } }],
        [{ birthTopic: 'a/#' }, { key: 'bad-topic', subs: { kind: 'birth', topic: 'a/#' } }],
        [{ willTopic: 'w', willQos: '3' }, { key: 'bad-number', subs: { option: 'willQos', value: '3', min: 0, max: 2 } }],
        [{ willTopic: 'w', willResponseTopic: 'r/#' }, { key: 'bad-topic', subs: { kind: 'willResponse', topic: 'r/#' } }],
        [{ willTopic: 'w', willUserProperties: '[1]' }, { key: 'bad-user-properties', subs: {} }],
        [{ willTopic: 'w', willUserProperties: '{bad' }, { key: 'bad-user-properties', subs: {} }],
      ]
      for (const [config, problem] of cases) assert.deepEqual(parseConnection({ id: 'x', ...config }, {}), { ok: false, problem }, JSON.stringify(config))
    })
  })
})
