/** Errors of the listeners module. The code says what went wrong; the message is for people. */
export type ListenerErrorCode =
  | 'BAD_PROTOCOL'          // protocol is not mqtt, mqtts, ws or wss
  | 'BAD_PORT'              // port is not an integer from 0 to 65535
  | 'BAD_PATH'              // a WebSocket path that does not start with '/' (or a path on a TCP/TLS listener)
  | 'TLS_REQUIRED'          // mqtts/wss without a certificate and key
  | 'TLS_NOT_ALLOWED'       // TLS settings on a plain mqtt/ws listener
  | 'TLS_INVALID'           // the certificate, key, passphrase or CA cannot be used
  | 'IDENTITY_NEEDS_CERTIFICATE' // useIdentityAsUsername without requireCertificate
  | 'CA_REQUIRED'           // requireCertificate without a CA to check client certificates against
  | 'PATH_IN_USE'           // another MQTT WebSocket is attached to this path of this HTTP server
  | 'LISTENER_CLOSED'       // serve() or attach after close()/detach()
  | 'NO_CERTIFICATE_CN'     // useIdentityAsUsername and the client certificate has no CN (per connection)
  | 'UPGRADE_TAKEN'         // another upgrade listener already answered this request (per connection)

export class ListenerError extends Error {
  constructor (readonly code: ListenerErrorCode, message: string) {
    super(message)
    this.name = 'ListenerError'
  }
}
