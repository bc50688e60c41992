/** TLS server options of an mqtts/wss listener, checked before anything is bound. */
import { createSecureContext, type TlsOptions } from 'node:tls'
import { ListenerError } from './errors'
import type { TlsSettings } from './types'

const DEFAULT_HANDSHAKE_TIMEOUT = 10000

export function tlsServerOptions (t: TlsSettings | undefined, handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT): TlsOptions {
  if (t === undefined || !t.cert || !t.key) throw new ListenerError('TLS_REQUIRED', 'a TLS listener needs a certificate and a key')
  const requireCertificate = t.requireCertificate === true
  if (t.useIdentityAsUsername === true && !requireCertificate) {
    throw new ListenerError('IDENTITY_NEEDS_CERTIFICATE', 'useIdentityAsUsername needs requireCertificate')
  }
  const hasCa = Array.isArray(t.ca) ? t.ca.length > 0 : Boolean(t.ca)
  // Without a CA of its own, Node would accept any client certificate from a public CA.
  if (requireCertificate && !hasCa) throw new ListenerError('CA_REQUIRED', 'requireCertificate needs a CA to check client certificates against')
  const options: TlsOptions = {
    cert: t.cert,
    key: t.key,
    passphrase: t.keyPassphrase,
    ca: hasCa ? t.ca : undefined,
    requestCert: requireCertificate,
    rejectUnauthorized: requireCertificate,
    handshakeTimeout,
  }
  try {
    createSecureContext(options)
  } catch (err) {
    throw new ListenerError('TLS_INVALID', `the certificate, key, passphrase or CA cannot be used: ${(err as Error).message}`)
  }
  return options
}
