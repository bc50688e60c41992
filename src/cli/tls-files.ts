/*
 * The files of a TLS listener: read (paths are already absolute) and checked one by one, so that
 * a bad file is reported by the key that names it, before anything is bound.
 */
import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { createSecureContext } from 'node:tls'
import type { TlsSettings } from '../listeners'
import { ConfigError, keyName } from './validate'
import type { ListenerSpec } from './config'

function read (spec: ListenerSpec, key: 'cert' | 'key' | 'ca', path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new ConfigError('UNREADABLE', keyName(spec.name, key), `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

function tryContext (spec: ListenerSpec, key: string, options: Parameters<typeof createSecureContext>[0], what: string): void {
  try {
    createSecureContext(options)
  } catch (err) {
    throw new ConfigError('TLS_INVALID', keyName(spec.name, key), `${what}: ${(err as Error).message}`)
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** TLS settings of an mqtts/wss listener spec, every file read and checked. Throws a ConfigError. */
export function loadTls (spec: ListenerSpec): TlsSettings {
  if (spec.cert === undefined || spec.key === undefined) throw new ConfigError('MISSING', keyName(spec.name, 'cert'), 'is required')
  const cert = read(spec, 'cert', spec.cert)
  const key = read(spec, 'key', spec.key)
  const ca = spec.ca !== undefined ? read(spec, 'ca', spec.ca) : undefined
  if (ca !== undefined) {
    // TLS would silently ignore a CA file without a certificate in it.
    const blocks = ca.toString('latin1').match(PEM_CERT) ?? []
    if (blocks.length === 0) throw new ConfigError('TLS_INVALID', keyName(spec.name, 'ca'), `${spec.ca} holds no PEM certificate`)
    for (const b of blocks) {
      try { new X509Certificate(b) } catch (err) { // parses, or says why not
        throw new ConfigError('TLS_INVALID', keyName(spec.name, 'ca'), `${spec.ca}: ${(err as Error).message}`)
      }
    }
  }
  tryContext(spec, 'cert', { cert }, `${spec.cert} is not a usable certificate`)
  try {
    createSecureContext({ key, passphrase: spec.keyPassphrase })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'ERR_OSSL_BAD_DECRYPT') {
      if (spec.keyPassphrase === undefined) throw new ConfigError('MISSING', keyName(spec.name, 'keyPassphrase'), `${spec.key} is encrypted: its passphrase is required`)
      throw new ConfigError('TLS_INVALID', keyName(spec.name, 'keyPassphrase'), `does not decrypt ${spec.key}`)
    }
    throw new ConfigError('TLS_INVALID', keyName(spec.name, 'key'), `${spec.key} is not a usable private key: ${e.message}`)
  }
  tryContext(spec, 'key', { cert, key, passphrase: spec.keyPassphrase }, `${spec.key} does not match the certificate ${spec.cert}`)
  const tls: TlsSettings = { cert, key, requireCertificate: spec.requireCertificate, useIdentityAsUsername: spec.useIdentityAsUsername }
  if (spec.keyPassphrase !== undefined) tls.keyPassphrase = spec.keyPassphrase
  if (ca !== undefined) tls.ca = ca
  return tls
}
