// The CLI's settings (src/cli/config.ts, args.ts): table-driven. Each case gives a config file
// and flags, and either the whole resolved settings or the error code and the key it names.
import assert from 'node:assert/strict'
import { resolveConfig, type CliFlags, type CliSettings } from '../../src/cli/config'
import { parseArgs } from '../../src/cli/args'
import { ConfigError, isLoopback } from '../../src/cli/validate'

const DIR = '/etc/hearth'
const CWD = '/home/me'
const DEFAULT_LISTENER = { name: 'default', protocol: 'mqtt', port: 1883, host: '127.0.0.1' }

/** What resolveConfig gives for a config with nothing but `extra` on top of the defaults. */
function settings (extra: Partial<CliSettings>): CliSettings {
  return { listeners: [DEFAULT_LISTENER as CliSettings['listeners'][0]], broker: {}, users: {}, allowAnonymous: true, ...extra }
}

interface Ok { title: string, file?: unknown, flags?: CliFlags, want: CliSettings }
interface Bad { title: string, file?: unknown, flags?: CliFlags, code: ConfigError['code'], key: string }

const TLS_LISTENER = { protocol: 'mqtts', port: 8883, cert: 'server.crt', key: 'server.key' }

const ok: Ok[] = [
  { title: 'nothing at all: one plain listener on 127.0.0.1:1883, anonymous allowed (loopback, no account)', want: settings({}) },
  { title: 'an empty file is the same', file: {}, want: settings({}) },
  { title: '--port alone stays on 127.0.0.1', flags: { port: 0 }, want: settings({ listeners: [{ name: '--port', protocol: 'mqtt', port: 0, host: '127.0.0.1' }] }) },
  { title: '--host alone keeps port 1883', flags: { host: '127.0.0.2' }, want: settings({ listeners: [{ name: '--host', protocol: 'mqtt', port: 1883, host: '127.0.0.2' }] }) },
  {
    title: 'top-level port/host keys are one plain listener; flags win over them',
    file: { port: 1884, host: '127.0.0.1' },
    flags: { port: 1885 },
    want: settings({ listeners: [{ name: '--port', protocol: 'mqtt', port: 1885, host: '127.0.0.1' }] }),
  },
  {
    title: 'top-level port key without flags',
    file: { port: 1884 },
    want: settings({ listeners: [{ name: 'port', protocol: 'mqtt', port: 1884, host: '127.0.0.1' }] }),
  },
  {
    title: 'listeners: host defaults to every interface; TLS paths start at the config folder; absolute paths are kept',
    file: {
      listeners: [
        { protocol: 'mqtt', port: 1883, host: '127.0.0.1' },
        { protocol: 'mqtts', port: 8883, cert: 'certs/server.crt', key: '/abs/server.key', keyPassphrase: 'pw', ca: '../ca.crt', requireCertificate: true, useIdentityAsUsername: true },
        { protocol: 'ws', port: 8080, path: '/mqtt', trustProxy: true },
        { protocol: 'wss', port: 8443, cert: 'server.crt', key: 'server.key', trustProxy: 2 },
      ],
      users: { alice: 'pw' },
    },
    want: settings({
      listeners: [
        { name: 'listeners[0]', protocol: 'mqtt', port: 1883, host: '127.0.0.1' },
        { name: 'listeners[1]', protocol: 'mqtts', port: 8883, cert: '/etc/hearth/certs/server.crt', key: '/abs/server.key', keyPassphrase: 'pw', ca: '/etc/ca.crt', requireCertificate: true, useIdentityAsUsername: true },
        { name: 'listeners[2]', protocol: 'ws', port: 8080, path: '/mqtt', trustProxy: true },
        { name: 'listeners[3]', protocol: 'wss', port: 8443, cert: '/etc/hearth/server.crt', key: '/etc/hearth/server.key', requireCertificate: false, useIdentityAsUsername: false, trustProxy: 2 },
      ],
      users: { alice: 'pw' },
      allowAnonymous: false,
    }),
  },
  {
    title: '--port is added to the listeners of the file',
    file: { listeners: [{ protocol: 'ws', port: 0, host: '127.0.0.1' }] },
    flags: { port: 0 },
    want: settings({ listeners: [{ name: 'listeners[0]', protocol: 'ws', port: 0, host: '127.0.0.1' }, { name: '--port', protocol: 'mqtt', port: 0, host: '127.0.0.1' }] }),
  },
  {
    title: 'anonymous default: refused on a non-loopback listener when there are accounts',
    file: { listeners: [{ protocol: 'mqtt', port: 1883 }], users: { a: 'b' } },
    want: settings({ listeners: [{ name: 'listeners[0]', protocol: 'mqtt', port: 1883 }], users: { a: 'b' }, allowAnonymous: false }),
  },
  {
    title: 'anonymous default: refused with accounts even on loopback',
    file: { users: { a: 'b' } },
    want: settings({ users: { a: 'b' }, allowAnonymous: false }),
  },
  {
    title: 'anonymous: an explicit true opens a non-loopback listener',
    file: { host: '0.0.0.0', allowAnonymous: true },
    want: settings({ listeners: [{ name: 'host', protocol: 'mqtt', port: 1883, host: '0.0.0.0' }], allowAnonymous: true }),
  },
  {
    title: 'anonymous: a passwordFile counts as accounts (resolved from the config folder)',
    file: { host: '0.0.0.0', passwordFile: 'passwd' },
    want: settings({ listeners: [{ name: 'host', protocol: 'mqtt', port: 1883, host: '0.0.0.0' }], allowAnonymous: false, passwordFile: '/etc/hearth/passwd' }),
  },
  {
    title: 'anonymous false and no account works when a listener identifies clients by certificate',
    file: { allowAnonymous: false, listeners: [{ ...TLS_LISTENER, ca: 'ca.crt', requireCertificate: true, useIdentityAsUsername: true }] },
    want: settings({
      listeners: [{ name: 'listeners[0]', protocol: 'mqtts', port: 8883, cert: '/etc/hearth/server.crt', key: '/etc/hearth/server.key', ca: '/etc/hearth/ca.crt', requireCertificate: true, useIdentityAsUsername: true }],
      allowAnonymous: false,
    }),
  },
  {
    title: 'every broker option is passed on; persistence keys; flags win and start at the working directory',
    file: {
      maxConnections: 5, maxPacketSize: 1000, maxInflight: 10, receiveMaximum: 20, maxQueuedMessages: 30, maxOutgoingBytes: 4096,
      maxKeepalive: 60, connectTimeout: 500, maximumQoS: 1, retainAvailable: false, topicAliasMaximum: 0, outboundTopicAliases: false,
      protocols: [4, 5], maxSessionExpiryInterval: 3600, tickInterval: 100, assignedClientIdPrefix: '',
      persistenceDir: 'data', persistenceSync: 'periodic', persistenceFlushInterval: 250,
      persistenceMaxStoreBytes: 1048576, persistenceMaxPendingBytes: 65536,
    },
    flags: { persistenceSync: 'always', aclFile: 'acl' },
    want: settings({
      broker: {
        maxConnections: 5, maxPacketSize: 1000, maxInflight: 10, receiveMaximum: 20, maxQueuedMessages: 30, maxOutgoingBytes: 4096,
        maxKeepalive: 60, connectTimeout: 500, maximumQoS: 1, retainAvailable: false, topicAliasMaximum: 0, outboundTopicAliases: false,
        protocols: [4, 5], maxSessionExpiryInterval: 3600, tickInterval: 100, assignedClientIdPrefix: '',
      },
      persistence: { dir: '/etc/hearth/data', sync: 'always', flushInterval: 250, maxStoreBytes: 1048576, maxPendingBytes: 65536 },
      aclFile: '/home/me/acl',
    }),
  },
  {
    title: '--persistence-dir starts at the working directory',
    flags: { persistenceDir: 'store' },
    want: settings({ persistence: { dir: '/home/me/store', sync: undefined, flushInterval: undefined, maxStoreBytes: undefined, maxPendingBytes: undefined } }),
  },
  {
    title: 'metrics, sysInterval (a broker option), bridges and aclFile are checked and kept',
    file: { metrics: { port: 9100, host: '::1' }, sysInterval: 0, bridges: [{ name: 'up', url: 'mqtt://h', topics: [{ pattern: '#' }] }], aclFile: '/etc/acl' },
    want: settings({ metrics: { port: 9100, host: '::1' }, broker: { sysInterval: 0 }, bridges: [{ name: 'up', url: 'mqtt://h', topics: [{ pattern: '#' }] }], aclFile: '/etc/acl' }),
  },
  {
    title: 'metrics.host defaults to 127.0.0.1; metrics.port 0 picks a free port',
    file: { metrics: { port: 0 } },
    want: settings({ metrics: { port: 0, host: '127.0.0.1' } }),
  },
]

const bad: Bad[] = [
  { title: 'an unknown top-level key', file: { prot: 1883 }, code: 'UNKNOWN_KEY', key: 'prot' },
  { title: 'an unknown listener key', file: { listeners: [{ protocol: 'mqtt', port: 1, bind: 'x' }] }, code: 'UNKNOWN_KEY', key: 'listeners[0].bind' },
  { title: 'an unknown metrics key', file: { metrics: { port: 1, path: '/m' } }, code: 'UNKNOWN_KEY', key: 'metrics.path' },
  { title: 'a file that is not an object', file: [1], code: 'BAD_TYPE', key: '(config file)' },
  { title: 'listeners not an array', file: { listeners: {} }, code: 'BAD_TYPE', key: 'listeners' },
  { title: 'a listener that is not an object', file: { listeners: [1883] }, code: 'BAD_TYPE', key: 'listeners[0]' },
  { title: 'protocol missing', file: { listeners: [{ port: 1 }] }, code: 'MISSING', key: 'listeners[0].protocol' },
  { title: 'protocol unknown', file: { listeners: [{ protocol: 'mqtt+ssl', port: 1 }] }, code: 'BAD_VALUE', key: 'listeners[0].protocol' },
  { title: 'port missing', file: { listeners: [{ protocol: 'mqtt' }] }, code: 'MISSING', key: 'listeners[0].port' },
  { title: 'port a string', file: { listeners: [{ protocol: 'mqtt', port: '1883' }] }, code: 'BAD_TYPE', key: 'listeners[0].port' },
  { title: 'port out of range', file: { listeners: [{ protocol: 'mqtt', port: 65536 }] }, code: 'BAD_VALUE', key: 'listeners[0].port' },
  { title: 'host empty', file: { listeners: [{ protocol: 'mqtt', port: 1, host: '' }] }, code: 'BAD_VALUE', key: 'listeners[0].host' },
  { title: 'path on a TCP listener', file: { listeners: [{ protocol: 'mqtt', port: 1, path: '/mqtt' }] }, code: 'NOT_ALLOWED', key: 'listeners[0].path' },
  { title: 'path without a slash', file: { listeners: [{ protocol: 'ws', port: 1, path: 'mqtt' }] }, code: 'BAD_VALUE', key: 'listeners[0].path' },
  { title: 'trustProxy on TCP', file: { listeners: [{ protocol: 'mqtt', port: 1, trustProxy: true }] }, code: 'NOT_ALLOWED', key: 'listeners[0].trustProxy' },
  { title: 'trustProxy 0', file: { listeners: [{ protocol: 'ws', port: 1, trustProxy: 0 }] }, code: 'BAD_TYPE', key: 'listeners[0].trustProxy' },
  { title: 'a certificate on a plain listener', file: { listeners: [{ protocol: 'ws', port: 1, cert: 'a.crt' }] }, code: 'NOT_ALLOWED', key: 'listeners[0].cert' },
  { title: 'requireCertificate on a plain listener', file: { listeners: [{ protocol: 'mqtt', port: 1, requireCertificate: true }] }, code: 'NOT_ALLOWED', key: 'listeners[0].requireCertificate' },
  { title: 'mqtts without cert', file: { listeners: [{ protocol: 'mqtts', port: 1, key: 'k' }] }, code: 'MISSING', key: 'listeners[0].cert' },
  { title: 'wss without key', file: { listeners: [{ protocol: 'wss', port: 1, cert: 'c' }] }, code: 'MISSING', key: 'listeners[0].key' },
  { title: 'requireCertificate without ca', file: { listeners: [{ ...TLS_LISTENER, requireCertificate: true }] }, code: 'MISSING', key: 'listeners[0].ca' },
  { title: 'useIdentityAsUsername without requireCertificate', file: { listeners: [{ ...TLS_LISTENER, ca: 'ca', useIdentityAsUsername: true }] }, code: 'CONFLICT', key: 'listeners[0].useIdentityAsUsername' },
  { title: 'requireCertificate not a boolean', file: { listeners: [{ ...TLS_LISTENER, ca: 'ca', requireCertificate: 'yes' }] }, code: 'BAD_TYPE', key: 'listeners[0].requireCertificate' },
  { title: 'keyPassphrase not a string', file: { listeners: [{ ...TLS_LISTENER, keyPassphrase: 1234 }] }, code: 'BAD_TYPE', key: 'listeners[0].keyPassphrase' },
  { title: 'allowAnonymous false and no account', file: { allowAnonymous: false }, code: 'CONFLICT', key: 'allowAnonymous' },
  { title: 'allowAnonymous false and an empty users table', file: { allowAnonymous: false, users: {} }, code: 'CONFLICT', key: 'allowAnonymous' },
  { title: 'a non-loopback listener, no account, allowAnonymous not set: nobody could connect', file: { listeners: [{ protocol: 'mqtt', port: 1883 }] }, code: 'CONFLICT', key: 'allowAnonymous' },
  { title: '--host 0.0.0.0 with no account and no allowAnonymous', flags: { host: '0.0.0.0' }, code: 'CONFLICT', key: 'allowAnonymous' },
  { title: 'allowAnonymous not a boolean', file: { allowAnonymous: 'yes' }, code: 'BAD_TYPE', key: 'allowAnonymous' },
  { title: 'users not an object', file: { users: ['a'] }, code: 'BAD_TYPE', key: 'users' },
  { title: 'a password that is not a string', file: { users: { bob: 1 } }, code: 'BAD_TYPE', key: 'users.bob' },
  { title: 'an empty password', file: { users: { bob: '' } }, code: 'BAD_VALUE', key: 'users.bob' },
  { title: 'a broker option of the wrong type', file: { maxConnections: '10' }, code: 'BAD_TYPE', key: 'maxConnections' },
  { title: 'a boolean broker option of the wrong type', file: { retainAvailable: 1 }, code: 'BAD_TYPE', key: 'retainAvailable' },
  { title: 'protocols with an unknown level', file: { protocols: [4, 6] }, code: 'BAD_VALUE', key: 'protocols' },
  { title: 'persistenceSync unknown', file: { persistenceDir: 'd', persistenceSync: 'never' }, code: 'BAD_VALUE', key: 'persistenceSync' },
  { title: 'persistenceSync without a folder', file: { persistenceSync: 'periodic' }, code: 'NOT_ALLOWED', key: 'persistenceSync' },
  { title: 'persistenceMaxStoreBytes without a folder', file: { persistenceMaxStoreBytes: 1048576 }, code: 'NOT_ALLOWED', key: 'persistenceMaxStoreBytes' },
  { title: 'persistenceMaxPendingBytes too small', file: { persistenceDir: 'd', persistenceMaxPendingBytes: 10 }, code: 'BAD_VALUE', key: 'persistenceMaxPendingBytes' },
  { title: 'persistenceFlushInterval 0', file: { persistenceDir: 'd', persistenceFlushInterval: 0 }, code: 'BAD_VALUE', key: 'persistenceFlushInterval' },
  { title: 'passwordFile not a string', file: { passwordFile: true }, code: 'BAD_TYPE', key: 'passwordFile' },
  { title: 'aclFile empty', file: { aclFile: '' }, code: 'BAD_VALUE', key: 'aclFile' },
  { title: 'metrics without port', file: { metrics: { host: '127.0.0.1' } }, code: 'MISSING', key: 'metrics.port' },
  { title: 'metrics not an object', file: { metrics: 9100 }, code: 'BAD_TYPE', key: 'metrics' },
  { title: 'metrics.port out of range', file: { metrics: { port: 65536 } }, code: 'BAD_VALUE', key: 'metrics.port' },
  { title: 'metrics.port not an integer', file: { metrics: { port: '9234' } }, code: 'BAD_TYPE', key: 'metrics.port' },
  { title: 'metrics.host empty', file: { metrics: { port: 9234, host: '' } }, code: 'BAD_VALUE', key: 'metrics.host' },
  { title: 'metrics.host not a string', file: { metrics: { port: 9234, host: 127 } }, code: 'BAD_TYPE', key: 'metrics.host' },
  { title: 'sysInterval negative', file: { sysInterval: -1 }, code: 'BAD_VALUE', key: 'sysInterval' },
  { title: 'sysInterval a string', file: { sysInterval: '10' }, code: 'BAD_TYPE', key: 'sysInterval' },
  { title: 'sysInterval a fraction', file: { sysInterval: 0.5 }, code: 'BAD_TYPE', key: 'sysInterval' },
  { title: 'bridges not an array', file: { bridges: {} }, code: 'BAD_TYPE', key: 'bridges' },
  { title: 'a bridge that is not an object', file: { bridges: ['x'] }, code: 'BAD_TYPE', key: 'bridges[0]' },
  { title: 'top-level port out of range', file: { port: -1 }, code: 'BAD_VALUE', key: 'port' },
]

describe('CLI config (src/cli/config.ts)', function () {
  for (const c of ok) {
    it(`resolves: ${c.title}`, function () {
      const got = resolveConfig({ file: c.file === undefined ? undefined : { data: c.file, dir: DIR }, flags: c.flags, cwd: CWD })
      assert.deepEqual(got, c.want)
    })
  }
  for (const c of bad) {
    it(`refuses with ${c.code} naming ${c.key}: ${c.title}`, function () {
      assert.throws(
        () => resolveConfig({ file: c.file === undefined ? undefined : { data: c.file, dir: DIR }, flags: c.flags, cwd: CWD }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`)
          assert.deepEqual({ code: err.code, key: err.key }, { code: c.code, key: c.key })
          assert.ok(err.message.startsWith(`${c.key}: `), `the message names the key: ${err.message}`)
          return true
        },
      )
    })
  }
})

describe('CLI arguments (src/cli/args.ts)', function () {
  const cases: Array<{ argv: string[], want?: ReturnType<typeof parseArgs>, key?: string }> = [
    { argv: [], want: { flags: {}, configFile: undefined, help: false } },
    {
      argv: ['--port', '0', '--host', '::1', '--config', 'b.json', '--persistence-dir', 'd', '--persistence-sync', 'periodic', '--password-file', 'pw', '--acl-file', 'acl', '--help'],
      want: { flags: { port: 0, host: '::1', persistenceDir: 'd', persistenceSync: 'periodic', passwordFile: 'pw', aclFile: 'acl' }, configFile: 'b.json', help: true },
    },
    { argv: ['-p', '1884', '-h', 'localhost', '-c', 'x.json'], want: { flags: { port: 1884, host: 'localhost' }, configFile: 'x.json', help: false } },
    { argv: ['--port', '70000'], key: '--port' },
    { argv: ['--port', ''], key: '--port' },
    { argv: ['--port', '1.5'], key: '--port' },
    { argv: ['--persistence-sync', 'sometimes'], key: '--persistence-sync' },
    { argv: ['--config'], key: '--config' },
    { argv: ['--verbose'], key: '--verbose' },
  ]
  for (const c of cases) {
    it(`${c.argv.join(' ') || '(no arguments)'} -> ${c.key === undefined ? 'parsed' : `BAD_ARGUMENT naming ${c.key}`}`, function () {
      if (c.key === undefined) { assert.deepEqual(parseArgs(c.argv), c.want); return }
      assert.throws(() => parseArgs(c.argv), (err: unknown) => err instanceof ConfigError && err.code === 'BAD_ARGUMENT' && err.key === c.key)
    })
  }
})

describe('CLI loopback test (src/cli/validate.ts)', function () {
  const table: Array<[string | undefined, boolean]> = [
    ['127.0.0.1', true], ['127.1.2.3', true], ['::1', true], ['localhost', true], ['LOCALHOST', true], ['::ffff:127.0.0.1', true],
    [undefined, false], ['0.0.0.0', false], ['::', false], ['192.168.1.2', false], ['128.0.0.1', false], ['example.org', false], ['127.0.0.1.example.org', false],
  ]
  for (const [host, want] of table) {
    it(`${String(host)} is ${want ? '' : 'not '}loopback`, function () { assert.equal(isLoopback(host), want) })
  }
})
