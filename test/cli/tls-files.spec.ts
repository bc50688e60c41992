// The files of a TLS listener in the CLI (src/cli/tls-files.ts): each bad file is reported by the
// key that names it, before anything is bound. Certificates come from openssl into a temp dir.
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadTls } from '../../src/cli/tls-files'
import type { ListenerSpec } from '../../src/cli/config'
import { ConfigError } from '../../src/cli/validate'
import { KEY_PASSPHRASE, makeCerts, type TestCerts } from '../listeners/certs'

describe('CLI TLS files (src/cli/tls-files.ts)', function () {
  this.timeout(30000)
  let certs: TestCerts
  let spec: ListenerSpec
  before(function () {
    certs = makeCerts()
    writeFileSync(join(certs.dir, 'garbage.pem'), 'not a certificate\n')
  })
  after(function () { certs.remove() })
  beforeEach(function () {
    spec = { name: 'listeners[2]', protocol: 'mqtts', port: 0, cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, requireCertificate: true, useIdentityAsUsername: true }
  })

  it('reads the certificate, key and CA and passes the client-certificate rules on', function () {
    assert.deepEqual(loadTls(spec), {
      cert: readFileSync(certs.serverCert),
      key: readFileSync(certs.serverKey),
      ca: readFileSync(certs.caCert),
      requireCertificate: true,
      useIdentityAsUsername: true,
    })
  })

  it('an encrypted key with its keyPassphrase', function () {
    const got = loadTls({ ...spec, key: certs.serverKeyEncrypted, keyPassphrase: KEY_PASSPHRASE })
    assert.deepEqual(got.key, readFileSync(certs.serverKeyEncrypted))
    assert.equal(got.keyPassphrase, KEY_PASSPHRASE)
  })

  const cases: Array<{ title: string, change: (c: TestCerts) => Partial<ListenerSpec>, code: ConfigError['code'], key: string }> = [
    { title: 'a certificate file that does not exist', change: c => ({ cert: join(c.dir, 'missing.crt') }), code: 'UNREADABLE', key: 'listeners[2].cert' },
    { title: 'a key file that does not exist', change: c => ({ key: join(c.dir, 'missing.key') }), code: 'UNREADABLE', key: 'listeners[2].key' },
    { title: 'a CA file that does not exist', change: c => ({ ca: join(c.dir, 'missing.crt') }), code: 'UNREADABLE', key: 'listeners[2].ca' },
    { title: 'a certificate file that holds no certificate', change: c => ({ cert: join(c.dir, 'garbage.pem') }), code: 'TLS_INVALID', key: 'listeners[2].cert' },
    { title: 'a key file that holds no key', change: c => ({ key: join(c.dir, 'garbage.pem') }), code: 'TLS_INVALID', key: 'listeners[2].key' },
    { title: 'a CA file that holds no certificate', change: c => ({ ca: join(c.dir, 'garbage.pem') }), code: 'TLS_INVALID', key: 'listeners[2].ca' },
    { title: 'the key of another certificate', change: c => ({ key: c.clientKey }), code: 'TLS_INVALID', key: 'listeners[2].key' },
    { title: 'an encrypted key without keyPassphrase', change: c => ({ key: c.serverKeyEncrypted }), code: 'MISSING', key: 'listeners[2].keyPassphrase' },
    { title: 'an encrypted key with the wrong keyPassphrase', change: c => ({ key: c.serverKeyEncrypted, keyPassphrase: 'wrong' }), code: 'TLS_INVALID', key: 'listeners[2].keyPassphrase' },
  ]
  for (const c of cases) {
    it(`refuses with ${c.code} naming ${c.key}: ${c.title}`, function () {
      assert.throws(() => loadTls({ ...spec, ...c.change(certs) }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err))
        assert.deepEqual({ code: err.code, key: err.key }, { code: c.code, key: c.key })
        return true
      })
    })
  }
})
