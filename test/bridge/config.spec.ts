/*
 * A bridge's config, checked and completed (pure, no broker): Mosquitto's defaults, every key's
 * coded error naming the key, the validity table of mosquitto.conf(5) for patterns and prefixes,
 * and the topic mapping both ways.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BridgeConfigError, loadBridgeTls, resolveBridgeConfig, toLocal, toRemote, type BridgeConfigErrorCode } from '../../src/bridge'

const base = { name: 'cloud', url: 'mqtt://broker.example', topics: [{ pattern: 'home/#' }] }

function refusal (raw: unknown): { code: BridgeConfigErrorCode, key: string } | 'accepted' {
  try {
    resolveBridgeConfig(raw, 'myhost')
    return 'accepted'
  } catch (err) {
    if (!(err instanceof BridgeConfigError)) throw err
    return { code: err.code, key: err.key }
  }
}

describe('bridge config', function () {
  it("defaults are Mosquitto's: protocol 5 (falling back to 4), client id <name>.<hostname>, clean session off, keepalive 60, out, QoS 0", function () {
    assert.deepEqual(resolveBridgeConfig(base, 'myhost'), {
      name: 'cloud',
      url: 'mqtt://broker.example',
      protocol: 'mqtt',
      host: 'broker.example',
      port: 1883,
      path: '',
      protocolVersion: 5,
      fallback: true,
      clientId: 'cloud.myhost',
      localClientId: 'local.cloud.myhost',
      cleanSession: false,
      keepalive: 60,
      tryPrivate: true,
      notifications: true,
      notificationsLocalOnly: false,
      notificationTopic: '$SYS/broker/connection/cloud.myhost/state',
      restartTimeout: [5000, 30000],
      topics: [{ pattern: 'home/#', direction: 'out', qos: 0, localPrefix: '', remotePrefix: '', localFilter: 'home/#', remoteFilter: 'home/#' }],
    })
  })

  it('the CLI contract example resolves as written', function () {
    const r = resolveBridgeConfig({
      name: 'cloud', url: 'mqtts://host:8883', protocolVersion: 5, clientId: 'house1', username: 'u', password: 'p', ca: 'ca.crt', cleanSession: false,
      topics: [{ pattern: 'home/#', direction: 'both', qos: 1, localPrefix: '', remotePrefix: 'house1/' }],
    }, 'h')
    assert.deepEqual({ ...r, topics: undefined }, {
      name: 'cloud', url: 'mqtts://host:8883', protocol: 'mqtts', host: 'host', port: 8883, path: '', protocolVersion: 5, fallback: false,
      clientId: 'house1', localClientId: 'local.house1', username: 'u', password: 'p', cleanSession: false, keepalive: 60, tryPrivate: true,
      notifications: true, notificationsLocalOnly: false, notificationTopic: '$SYS/broker/connection/house1/state', restartTimeout: [5000, 30000],
      tls: { ca: 'ca.crt', rejectUnauthorized: true }, topics: undefined,
    })
    assert.deepEqual(r.topics, [{ pattern: 'home/#', direction: 'both', qos: 1, localPrefix: '', remotePrefix: 'house1/', localFilter: 'home/#', remoteFilter: 'house1/home/#' }])
  })

  it('URLs: default ports, WebSocket paths, IPv6 hosts', function () {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['mqtt://h', { protocol: 'mqtt', host: 'h', port: 1883, path: '' }],
      ['mqtts://h', { protocol: 'mqtts', host: 'h', port: 8883, path: '' }],
      ['ws://h/mqtt', { protocol: 'ws', host: 'h', port: 80, path: '/mqtt' }],
      ['wss://h:8084/mqtt?x=1', { protocol: 'wss', host: 'h', port: 8084, path: '/mqtt?x=1' }],
      ['mqtt://[::1]:1884', { protocol: 'mqtt', host: '::1', port: 1884, path: '' }],
    ]
    for (const [url, want] of cases) {
      const r = resolveBridgeConfig({ ...base, url }, 'h')
      assert.deepEqual({ protocol: r.protocol, host: r.host, port: r.port, path: r.path }, want, url)
    }
  })

  // Each entry: what is changed from `base`, and the refusal (code, key) it must give.
  const REFUSED: Array<[string, Record<string, unknown>, BridgeConfigErrorCode, string]> = [
    ['an unknown key', { colour: 'red' }, 'UNKNOWN_KEY', 'colour'],
    ['no name', { name: undefined }, 'MISSING', 'name'],
    ['a name that is not a string', { name: 3 }, 'BAD_TYPE', 'name'],
    ['an empty name', { name: '' }, 'BAD_VALUE', 'name'],
    ['a name with /', { name: 'a/b' }, 'BAD_VALUE', 'name'],
    ['no url', { url: undefined }, 'MISSING', 'url'],
    ['a url that is no URL', { url: 'broker:1883' }, 'BAD_VALUE', 'url'],
    ['an http url', { url: 'http://h' }, 'BAD_VALUE', 'url'],
    ['credentials in the url', { url: 'mqtt://u:p@h' }, 'NOT_ALLOWED', 'url'],
    ['a path on mqtt://', { url: 'mqtt://h/x' }, 'BAD_VALUE', 'url'],
    ['protocolVersion 6', { protocolVersion: 6 }, 'BAD_VALUE', 'protocolVersion'],
    ['protocolVersion "5"', { protocolVersion: '5' }, 'BAD_VALUE', 'protocolVersion'],
    ['an empty clientId', { clientId: '' }, 'BAD_VALUE', 'clientId'],
    ['a clientId with # (the state topic)', { clientId: 'a#' }, 'BAD_VALUE', 'clientId'],
    ['a password without username', { password: 'p' }, 'CONFLICT', 'password'],
    ['a username that is not a string', { username: 1 }, 'BAD_TYPE', 'username'],
    ['cleanSession "no"', { cleanSession: 'no' }, 'BAD_TYPE', 'cleanSession'],
    ['keepalive 4 (Mosquitto: at least 5)', { keepalive: 4 }, 'BAD_VALUE', 'keepalive'],
    ['keepalive 1.5', { keepalive: 1.5 }, 'BAD_TYPE', 'keepalive'],
    ['ca on mqtt://', { ca: 'ca.crt' }, 'NOT_ALLOWED', 'ca'],
    ['rejectUnauthorized on mqtt://', { rejectUnauthorized: false }, 'NOT_ALLOWED', 'rejectUnauthorized'],
    ['cert without key', { url: 'mqtts://h', cert: 'c.crt' }, 'MISSING', 'key'],
    ['key without cert', { url: 'mqtts://h', key: 'c.key' }, 'MISSING', 'cert'],
    ['keyPassphrase without key', { url: 'mqtts://h', keyPassphrase: 'x' }, 'NOT_ALLOWED', 'keyPassphrase'],
    ['rejectUnauthorized "false"', { url: 'mqtts://h', rejectUnauthorized: 'false' }, 'BAD_TYPE', 'rejectUnauthorized'],
    ['a notificationTopic with +', { notificationTopic: 'a/+' }, 'BAD_VALUE', 'notificationTopic'],
    ['restartTimeout 0', { restartTimeout: 0 }, 'BAD_VALUE', 'restartTimeout'],
    ['restartTimeout [30, 5]', { restartTimeout: [30, 5] }, 'BAD_VALUE', 'restartTimeout'],
    ['restartTimeout [1]', { restartTimeout: [1] }, 'BAD_VALUE', 'restartTimeout'],
    ['restartTimeout "5"', { restartTimeout: '5' }, 'BAD_TYPE', 'restartTimeout'],
    ['no topics', { topics: undefined }, 'MISSING', 'topics'],
    ['topics not an array', { topics: {} }, 'BAD_TYPE', 'topics'],
    ['no topic rule', { topics: [] }, 'BAD_VALUE', 'topics'],
    ['a topic rule that is a string', { topics: ['home/#'] }, 'BAD_TYPE', 'topics[0]'],
    ['a topic rule without pattern', { topics: [{ direction: 'in' }] }, 'MISSING', 'topics[0].pattern'],
    ['an unknown key in a rule', { topics: [{ pattern: 'a', prefix: 'x' }] }, 'UNKNOWN_KEY', 'topics[0].prefix'],
    ['direction "up"', { topics: [{ pattern: 'a', direction: 'up' }] }, 'BAD_VALUE', 'topics[0].direction'],
    ['qos 3', { topics: [{ pattern: 'a', qos: 3 }] }, 'BAD_VALUE', 'topics[0].qos'],
    ['an invalid pattern (a/#/b)', { topics: [{ pattern: 'a/#/b' }] }, 'BAD_VALUE', 'topics[0].pattern'],
    ['a shared subscription pattern', { topics: [{ pattern: '$share/g/a' }] }, 'BAD_VALUE', 'topics[0].pattern'],
    ['a wildcard in a local prefix', { topics: [{ pattern: 'a', localPrefix: '+/' }] }, 'BAD_VALUE', 'topics[0].localPrefix'],
    ['a wildcard in a remote prefix', { topics: [{ pattern: 'a', remotePrefix: '#' }] }, 'BAD_VALUE', 'topics[0].remotePrefix'],
    ['a prefix that makes the filter invalid (x + #)', { topics: [{ pattern: '#', localPrefix: 'x' }] }, 'BAD_VALUE', 'topics[0].localPrefix'],
    // mosquitto.conf(5): pattern "" needs both prefixes
    ['pattern "" with no prefix', { topics: [{ pattern: '' }] }, 'MISSING', 'topics[0].localPrefix'],
    ['pattern "" with a local prefix only', { topics: [{ pattern: '', localPrefix: 'local' }] }, 'MISSING', 'topics[0].remotePrefix'],
    ['pattern "" with a remote prefix only', { topics: [{ pattern: '', remotePrefix: 'remote' }] }, 'MISSING', 'topics[0].localPrefix'],
    ['the second rule at fault', { topics: [{ pattern: 'a' }, { pattern: 'b', qos: -1 }] }, 'BAD_VALUE', 'topics[1].qos'],
  ]

  for (const [what, change, code, key] of REFUSED) {
    it(`refuses ${what}: ${code} naming ${key}`, function () {
      const raw: Record<string, unknown> = { ...base, ...change }
      for (const k of Object.keys(change)) if (change[k] === undefined) delete raw[k]
      assert.deepEqual(refusal(raw), { code, key })
    })
  }

  it('refuses what is not an object', function () {
    assert.deepEqual(refusal(['x']), { code: 'BAD_TYPE', key: '(bridge)' })
  })

  // mosquitto.conf(5), topic: the table of pattern / local prefix / remote prefix, and the topics on each side
  const MAPPING: Array<{ pattern: string, localPrefix: string, remotePrefix: string, local: string, remote: string }> = [
    { pattern: 'pattern', localPrefix: 'L/', remotePrefix: 'R/', local: 'L/pattern', remote: 'R/pattern' },
    { pattern: 'pattern', localPrefix: 'L/', remotePrefix: '', local: 'L/pattern', remote: 'pattern' },
    { pattern: 'pattern', localPrefix: '', remotePrefix: 'R/', local: 'pattern', remote: 'R/pattern' },
    { pattern: 'pattern', localPrefix: '', remotePrefix: '', local: 'pattern', remote: 'pattern' },
    { pattern: '', localPrefix: 'local', remotePrefix: 'remote', local: 'local', remote: 'remote' },
  ]
  for (const m of MAPPING) {
    it(`maps (pattern "${m.pattern}", local "${m.localPrefix}", remote "${m.remotePrefix}"): ${m.local} <-> ${m.remote}`, function () {
      const r = resolveBridgeConfig({ ...base, topics: [{ pattern: m.pattern, direction: 'both', localPrefix: m.localPrefix, remotePrefix: m.remotePrefix }] }, 'h')
      assert.deepEqual([r.topics[0].localFilter, r.topics[0].remoteFilter], [m.local, m.remote])
      assert.deepEqual([toRemote(r.topics, m.local), toLocal(r.topics, m.remote)], [m.remote, m.local])
    })
  }

  it('the first rule of the direction that matches decides; directions are kept apart', function () {
    const r = resolveBridgeConfig({
      ...base,
      topics: [
        { pattern: 'a/#', direction: 'in', remotePrefix: 'in/' },
        { pattern: 'a/#', direction: 'out', remotePrefix: 'out1/' },
        { pattern: 'a/b', direction: 'out', remotePrefix: 'out2/' },
        { pattern: '#', direction: 'both', localPrefix: 'l/', remotePrefix: 'r/' },
      ],
    }, 'h')
    const cases: Array<[(t: string) => string | undefined, string, string | undefined]> = [
      [t => toRemote(r.topics, t), 'a/b', 'out1/a/b'],
      [t => toRemote(r.topics, t), 'l/x', 'r/x'],
      [t => toRemote(r.topics, t), 'l', 'r'],
      [t => toRemote(r.topics, t), 'x', undefined],
      [t => toRemote(r.topics, t), '$SYS/x', undefined],
      [t => toLocal(r.topics, t), 'in/a/b', 'a/b'],
      [t => toLocal(r.topics, t), 'out1/a/b', undefined],
      [t => toLocal(r.topics, t), 'r/y', 'l/y'],
    ]
    for (const [fn, topic, want] of cases) assert.equal(fn(topic), want, topic)
  })

  describe('TLS files', function () {
    let dir: string
    before(function () { dir = mkdtempSync(join(tmpdir(), 'hearth-bridge-tls-')) })
    after(function () { rmSync(dir, { recursive: true, force: true }) })

    it('unreadable, without a certificate, or a bad key: coded errors naming the key', function () {
      writeFileSync(join(dir, 'empty.crt'), 'nothing here\n')
      writeFileSync(join(dir, 'bad.key'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')
      const cases: Array<[Record<string, unknown>, BridgeConfigErrorCode, string]> = [
        [{ ca: join(dir, 'missing.crt') }, 'UNREADABLE', 'ca'],
        [{ ca: join(dir, 'empty.crt') }, 'TLS_INVALID', 'ca'],
        [{ ca: Buffer.from('not pem') }, 'TLS_INVALID', 'ca'],
        [{ cert: join(dir, 'missing.crt'), key: join(dir, 'bad.key') }, 'UNREADABLE', 'cert'],
      ]
      for (const [change, code, key] of cases) {
        const r = resolveBridgeConfig({ ...base, url: 'mqtts://h', ...change }, 'h')
        let got: { code: string, key: string } | 'loaded' = 'loaded'
        try { loadBridgeTls(r) } catch (err) { got = { code: (err as BridgeConfigError).code, key: (err as BridgeConfigError).key } }
        assert.deepEqual(got, { code, key }, JSON.stringify(change))
      }
      assert.equal(loadBridgeTls(resolveBridgeConfig(base, 'h')), undefined, 'no TLS for mqtt://')
    })
  })
})
