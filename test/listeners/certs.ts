// Test certificates, made by the `openssl` command into a temp dir for each run (no key is ever
// committed): a CA, a server certificate for 127.0.0.1/::1/localhost, client certificates signed by
// that CA (one with a CN, one without), a client certificate from another CA, and an encrypted copy
// of the server key.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const KEY_PASSPHRASE = 'hearth test passphrase'
export const CLIENT_CN = 'sensor-17'

export interface TestCerts {
  dir: string
  /** Paths. */
  caCert: string
  serverCert: string
  serverKey: string
  serverKeyEncrypted: string
  clientCert: string
  clientKey: string
  /** Signed by the CA, no CN in its subject. */
  noCnCert: string
  noCnKey: string
  otherCaCert: string
  /** Signed by the other CA. */
  strangerCert: string
  strangerKey: string
  read: (path: string) => Buffer
  remove: () => void
}

const OPENSSL = '/usr/bin/openssl'

function openssl (dir: string, args: string[]): void {
  if (!existsSync(OPENSSL)) throw new Error('openssl is not installed: install the Debian package openssl')
  execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 })
}

function keyAndCsr (dir: string, name: string, subject: string): void {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject])
}

function ca (dir: string, name: string, subject: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', subject])
}

function sign (dir: string, name: string, caName: string, ext: string, serial: number): void {
  writeFileSync(join(dir, `${name}.ext`), ext)
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`,
    '-set_serial', String(serial), '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`])
}

export function makeCerts (): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-certs-'))
  try {
    ca(dir, 'ca', '/O=Hearth tests/CN=Hearth Test CA')
    ca(dir, 'other-ca', '/O=Somebody else/CN=Other CA')
    keyAndCsr(dir, 'server', '/O=Hearth tests/CN=localhost')
    sign(dir, 'server', 'ca', 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n', 1)
    const client = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n'
    keyAndCsr(dir, 'client', `/O=Hearth tests/CN=${CLIENT_CN}`)
    sign(dir, 'client', 'ca', client, 2)
    keyAndCsr(dir, 'nocn', '/O=Hearth tests/OU=no common name')
    sign(dir, 'nocn', 'ca', client, 3)
    keyAndCsr(dir, 'stranger', '/O=Somebody else/CN=stranger')
    sign(dir, 'stranger', 'other-ca', client, 4)
    openssl(dir, ['pkey', '-in', 'server.key', '-aes256', '-passout', `pass:${KEY_PASSPHRASE}`, '-out', 'server-encrypted.key'])
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    const e = err as Error & { stderr?: Buffer }
    throw new Error(`openssl failed: ${e.message}\n${e.stderr?.toString() ?? ''}`)
  }
  const p = (f: string): string => join(dir, f)
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    serverKeyEncrypted: p('server-encrypted.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    noCnCert: p('nocn.crt'),
    noCnKey: p('nocn.key'),
    otherCaCert: p('other-ca.crt'),
    strangerCert: p('stranger.crt'),
    strangerKey: p('stranger.key'),
    read: (path) => readFileSync(path),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
