// Config parsing of the Node-RED nodes: hearth-broker (src/nodes/hearth-broker/config.ts) and
// hearth-connection (src/nodes/hearth-connection/options.ts). Each case states the whole result.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { INTEGER_OPTIONS } from '../../src/broker/options'
import { parseBrokerConfig } from '../../src/nodes/hearth-broker/config'
import { DEFAULTS, LIMIT_KEYS, parseIntIn } from '../../src/nodes/hearth-broker/types'
import { parseConnection } from '../../src/nodes/hearth-connection/options'

describe('unit: node config parsing', function () {
  describe('hearth-broker', function () {
    it('an empty config: one MQTT listener on 1883, every interface, the core\'s defaults for every limit (none passed), anonymous on', function () {
      // as JSON: the parser leaves unset fields undefined
      assert.deepEqual(JSON.parse(JSON.stringify(parseBrokerConfig({}))), {
        ok: true,
        config: {
          listeners: [{ kind: 'mqtt', number: 1, port: 1883, requireCertificate: false, useIdentityAsUsername: false, trustProxy: false }],
          options: { protocols: [3, 4, 5], maximumQoS: 2, retainAvailable: true },
          allowAnonymous: true,
          tls: '',
          persistence: { enabled: true, dir: '', syncMode: 'always', flushInterval: 1000 },
        },
      })
    })

    it('property: every limit the node exposes takes exactly the core\'s range (INTEGER_OPTIONS), as number or string', function () {
      fc.assert(fc.property(fc.constantFrom(...LIMIT_KEYS), fc.integer({ min: -10, max: 2 ** 32 + 10 }), fc.boolean(), (key, n, asString) => {
        const { min, max } = INTEGER_OPTIONS[key]
        const r = parseBrokerConfig({ [key]: asString ? String(n) : n })
        if (n >= min && n <= max) {
          assert.ok(r.ok, `${key}=${n}`)
          assert.equal((r.config.options as Record<string, unknown>)[key], n)
        } else {
          assert.deepEqual(r, { ok: false, problem: { key: 'bad-number', subs: { option: key, value: String(n), min, max } } })
        }
      }), { numRuns: 1000 })
    })

    it('every core integer option but the internal ones is a node limit', function () {
      const internal = ['maximumQoS'] // a field of its own in the editor
      assert.deepEqual([...LIMIT_KEYS].sort(), Object.keys(INTEGER_OPTIONS).filter(k => !internal.includes(k)).sort())
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
        external: undefined, // in-process: no external broker settings
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
        external: undefined,
      })
    })

    it('MQTT 3.1.1: no session expiry, and the will carries no MQTT 5 delay or properties', function () {
      assert.deepEqual(parseConnection({ id: 'n3', protocolVersion: 4, willTopic: 'w', willPayload: 'x', willDelay: '9', willContentType: 'c' }, { username: 'u' }), {
        ok: true,
        protocolVersion: 4,
        options: { clientId: 'hearth-n3', protocolVersion: 4, clean: true, keepalive: 60, username: 'u', will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false } },
        birth: undefined,
        close: undefined,
        external: undefined,
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
