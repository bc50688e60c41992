/** Errors of the bridge. The code says what went wrong; the message is for people. */

/** A config problem, coded as the CLI's config errors and naming the key at fault ('topics[0].qos'). */
export type BridgeConfigErrorCode =
  | 'UNKNOWN_KEY'  // a key the bridge does not know
  | 'BAD_TYPE'     // a value of the wrong type
  | 'BAD_VALUE'    // a value of the right type outside what is allowed
  | 'MISSING'      // a required key is absent
  | 'NOT_ALLOWED'  // a key that does not apply here (a certificate on mqtt://)
  | 'CONFLICT'     // settings that cannot work together
  | 'UNREADABLE'   // a certificate, key or CA file that cannot be read
  | 'TLS_INVALID'  // a certificate, key, passphrase or CA that TLS cannot use

export class BridgeConfigError extends Error {
  constructor (readonly code: BridgeConfigErrorCode, readonly key: string, message: string) {
    super(`${key}: ${message}`)
    this.name = 'BridgeConfigError'
  }
}

/** Why the link to the remote broker failed or ended. */
export type BridgeErrorCode =
  | 'NETWORK'        // the connection could not be opened, or broke (ECONNREFUSED, ECONNRESET, TLS handshake ...)
  | 'REFUSED'        // the remote answered CONNECT with a refusing CONNACK (reasonCode)
  | 'TIMEOUT'        // no CONNACK in time, or no PINGRESP within the keepalive
  | 'PROTOCOL'       // the remote sent something malformed or against the protocol
  | 'DISCONNECTED'   // the remote sent DISCONNECT (reasonCode), or closed the connection
  | 'LOCAL'          // the bridge's in-process side could not connect to this broker (reasonCode)
  | 'CLOSED'         // the bridge was closed

export class BridgeError extends Error {
  constructor (readonly code: BridgeErrorCode, message: string, readonly reasonCode?: number) {
    super(message)
    this.name = 'BridgeError'
  }
}
