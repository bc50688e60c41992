// The CLI's `bridges` key (src/cli/bridges.ts through resolveConfig): table-driven. Each case gives
// the bridges of a config file and either what is kept (relative TLS paths from the file's folder)
// or the error code and the key it names, under bridges[i].
import assert from 'node:assert/strict'
import { resolveConfig } from '../../src/cli/config'
import { ConfigError } from '../../src/cli/validate'

const DIR = '/etc/hearth'
const B = { name: 'cloud', url: 'mqtt://cloud.example', topics: [{ pattern: 'home/#', direction: 'both', qos: 1, remotePrefix: 'house1/' }] }
const TLS = { ...B, url: 'mqtts://cloud.example:8883' }

const ok: Array<{ title: string, bridges: unknown[], want: unknown[] }> = [
  { title: 'the README example, kept as written', bridges: [B], want: [B] },
  {
    title: 'TLS paths start at the config folder; absolute ones are kept',
    bridges: [{ ...TLS, ca: 'certs/ca.crt', cert: '/abs/client.crt', key: '../client.key', keyPassphrase: 'pw', rejectUnauthorized: false }],
    want: [{ ...TLS, ca: '/etc/hearth/certs/ca.crt', cert: '/abs/client.crt', key: '/etc/client.key', keyPassphrase: 'pw', rejectUnauthorized: false }],
  },
  {
    title: 'several bridges, every key',
    bridges: [
      B,
      { name: 'backup', url: 'ws://backup.example/mqtt', protocolVersion: 4, clientId: 'house1-backup', username: 'u', password: 'p', cleanSession: true, keepalive: 30, tryPrivate: false, notifications: false, notificationsLocalOnly: true, notificationTopic: 'bridges/backup', localClientId: 'bk', restartTimeout: [1, 10], topics: [{ pattern: '', direction: 'in', localPrefix: 'cmd', remotePrefix: 'house1/cmd' }] },
    ],
    want: [
      B,
      { name: 'backup', url: 'ws://backup.example/mqtt', protocolVersion: 4, clientId: 'house1-backup', username: 'u', password: 'p', cleanSession: true, keepalive: 30, tryPrivate: false, notifications: false, notificationsLocalOnly: true, notificationTopic: 'bridges/backup', localClientId: 'bk', restartTimeout: [1, 10], topics: [{ pattern: '', direction: 'in', localPrefix: 'cmd', remotePrefix: 'house1/cmd' }] },
    ],
  },
  { title: 'no bridges: an empty list', bridges: [], want: [] },
]

const bad: Array<{ title: string, bridges: unknown[], code: ConfigError['code'], key: string }> = [
  { title: 'a bridge that is not an object', bridges: ['x'], code: 'BAD_TYPE', key: 'bridges[0]' },
  { title: 'an unknown key', bridges: [{ ...B, adress: 'h' }], code: 'UNKNOWN_KEY', key: 'bridges[0].adress' },
  { title: 'no name', bridges: [{ url: B.url, topics: B.topics }], code: 'MISSING', key: 'bridges[0].name' },
  { title: 'no url', bridges: [{ name: 'x', topics: B.topics }], code: 'MISSING', key: 'bridges[0].url' },
  { title: 'a url of another scheme', bridges: [{ ...B, url: 'tcp://h:1883' }], code: 'BAD_VALUE', key: 'bridges[0].url' },
  { title: 'protocolVersion 6', bridges: [{ ...B, protocolVersion: 6 }], code: 'BAD_VALUE', key: 'bridges[0].protocolVersion' },
  { title: 'keepalive 2', bridges: [{ ...B, keepalive: 2 }], code: 'BAD_VALUE', key: 'bridges[0].keepalive' },
  { title: 'cleanSession a string', bridges: [{ ...B, cleanSession: 'false' }], code: 'BAD_TYPE', key: 'bridges[0].cleanSession' },
  { title: 'a password without username', bridges: [{ ...B, password: 'p' }], code: 'CONFLICT', key: 'bridges[0].password' },
  { title: 'a CA on mqtt://', bridges: [{ ...B, ca: 'ca.crt' }], code: 'NOT_ALLOWED', key: 'bridges[0].ca' },
  { title: 'a cert without key', bridges: [{ ...TLS, cert: 'c.crt' }], code: 'MISSING', key: 'bridges[0].key' },
  { title: 'rejectUnauthorized not a boolean', bridges: [{ ...TLS, rejectUnauthorized: 0 }], code: 'BAD_TYPE', key: 'bridges[0].rejectUnauthorized' },
  { title: 'no topics', bridges: [{ name: 'x', url: B.url }], code: 'MISSING', key: 'bridges[0].topics' },
  { title: 'an empty topic list', bridges: [{ ...B, topics: [] }], code: 'BAD_VALUE', key: 'bridges[0].topics' },
  { title: 'a bad direction', bridges: [{ ...B, topics: [{ pattern: 'a', direction: 'sideways' }] }], code: 'BAD_VALUE', key: 'bridges[0].topics[0].direction' },
  { title: 'qos 3', bridges: [{ ...B, topics: [{ pattern: 'a', qos: 3 }] }], code: 'BAD_VALUE', key: 'bridges[0].topics[0].qos' },
  { title: 'a wildcard in a prefix', bridges: [{ ...B, topics: [{ pattern: 'a', localPrefix: 'x/+/' }] }], code: 'BAD_VALUE', key: 'bridges[0].topics[0].localPrefix' },
  { title: 'pattern "" without both prefixes', bridges: [{ ...B, topics: [{ pattern: '', localPrefix: 'x' }] }], code: 'MISSING', key: 'bridges[0].topics[0].remotePrefix' },
  { title: 'restartTimeout 0', bridges: [{ ...B, restartTimeout: 0 }], code: 'BAD_VALUE', key: 'bridges[0].restartTimeout' },
  { title: 'two bridges with one name', bridges: [B, { ...B, clientId: 'other' }], code: 'CONFLICT', key: 'bridges[1].name' },
  { title: 'two bridges with one client id', bridges: [{ ...B, clientId: 'same' }, { ...B, name: 'b2', clientId: 'same' }], code: 'CONFLICT', key: 'bridges[1].clientId' },
  { title: 'the second bridge at fault', bridges: [B, { ...B, name: 'b2', topics: [{ pattern: 'a/#/b' }] }], code: 'BAD_VALUE', key: 'bridges[1].topics[0].pattern' },
]

describe('CLI config: bridges', function () {
  for (const c of ok) {
    it(`keeps: ${c.title}`, function () {
      const got = resolveConfig({ file: { data: { bridges: c.bridges }, dir: DIR }, cwd: '/home/me' })
      assert.deepEqual(got.bridges, c.want)
    })
  }
  for (const c of bad) {
    it(`refuses with ${c.code} naming ${c.key}: ${c.title}`, function () {
      assert.throws(() => resolveConfig({ file: { data: { bridges: c.bridges }, dir: DIR }, cwd: '/home/me' }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`)
        assert.deepEqual({ code: err.code, key: err.key }, { code: c.code, key: c.key })
        assert.ok(err.message.startsWith(`${c.key}: `) && !err.message.startsWith(`${c.key}: ${c.key.split('.').pop() ?? ''}:`), `the message names the key once: ${err.message}`)
        return true
      })
    })
  }
})
