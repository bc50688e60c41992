/*
 * The TLS material of an mqtts/wss bridge: files read, and everything checked one by one when the
 * bridge is created, so that a bad file is reported by the key that names it and not as a failed
 * handshake at every attempt.
 */
import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { createSecureContext } from 'node:tls'
import { BridgeConfigError } from './errors'
import type { ResolvedBridge } from './config'
import type { PemSource } from './types'

export interface TlsMaterial {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  passphrase?: string
  rejectUnauthorized: boolean
}

function read (key: string, source: PemSource): Buffer {
  if (Buffer.isBuffer(source)) return source
  try {
    return readFileSync(source)
  } catch (err) {
    throw new BridgeConfigError('UNREADABLE', key, `cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

function label (source: PemSource): string {
  return Buffer.isBuffer(source) ? 'the PEM given' : source
}

/** Read and check the bridge's CA, certificate and key. Throws a BridgeConfigError; undefined for mqtt:// and ws://. */
export function loadTls (b: ResolvedBridge): TlsMaterial | undefined {
  const t = b.tls
  if (t === undefined) return undefined
  const out: TlsMaterial = { rejectUnauthorized: t.rejectUnauthorized }
  if (t.ca !== undefined) {
    const ca = read('ca', t.ca)
    // TLS would silently ignore a CA file without a certificate in it.
    const blocks = ca.toString('latin1').match(PEM_CERT) ?? []
    if (blocks.length === 0) throw new BridgeConfigError('TLS_INVALID', 'ca', `${label(t.ca)} holds no PEM certificate`)
    for (const block of blocks) {
      try { new X509Certificate(block) } catch (err) { // parses, or says why not
        throw new BridgeConfigError('TLS_INVALID', 'ca', `${label(t.ca)}: ${(err as Error).message}`)
      }
    }
    out.ca = ca
  }
  if (t.cert !== undefined && t.key !== undefined) {
    const cert = read('cert', t.cert)
    const key = read('key', t.key)
    try {
      createSecureContext({ cert })
    } catch (err) {
      throw new BridgeConfigError('TLS_INVALID', 'cert', `${label(t.cert)} is not a usable certificate: ${(err as Error).message}`)
    }
    try {
      createSecureContext({ key, passphrase: t.keyPassphrase })
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      if (e.code === 'ERR_OSSL_BAD_DECRYPT') {
        if (t.keyPassphrase === undefined) throw new BridgeConfigError('MISSING', 'keyPassphrase', `${label(t.key)} is encrypted: its passphrase is required`)
        throw new BridgeConfigError('TLS_INVALID', 'keyPassphrase', `does not decrypt ${label(t.key)}`)
      }
      throw new BridgeConfigError('TLS_INVALID', 'key', `${label(t.key)} is not a usable private key: ${e.message}`)
    }
    try {
      createSecureContext({ cert, key, passphrase: t.keyPassphrase })
    } catch (err) {
      throw new BridgeConfigError('TLS_INVALID', 'key', `${label(t.key)} does not match the certificate ${label(t.cert)}: ${(err as Error).message}`)
    }
    out.cert = cert
    out.key = key
    if (t.keyPassphrase !== undefined) out.passphrase = t.keyPassphrase
  }
  return out
}
