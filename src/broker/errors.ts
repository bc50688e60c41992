/** MQTT 5 reason codes used by the broker (OASIS MQTT 5.0, section 2.4). */
export const RC = {
  SUCCESS: 0x00,
  NORMAL_DISCONNECTION: 0x00,
  GRANTED_QOS_0: 0x00,
  GRANTED_QOS_1: 0x01,
  GRANTED_QOS_2: 0x02,
  DISCONNECT_WITH_WILL: 0x04,
  NO_MATCHING_SUBSCRIBERS: 0x10,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  CONTINUE_AUTHENTICATION: 0x18,
  UNSPECIFIED_ERROR: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_IDENTIFIER_NOT_VALID: 0x85,
  BAD_USER_NAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  BANNED: 0x8a,
  SERVER_SHUTTING_DOWN: 0x8b,
  BAD_AUTHENTICATION_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_IDENTIFIER_IN_USE: 0x91,
  PACKET_IDENTIFIER_NOT_FOUND: 0x92,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  MESSAGE_RATE_TOO_HIGH: 0x96,
  QUOTA_EXCEEDED: 0x97,
  ADMINISTRATIVE_ACTION: 0x98,
  PAYLOAD_FORMAT_INVALID: 0x99,
  RETAIN_NOT_SUPPORTED: 0x9a,
  QOS_NOT_SUPPORTED: 0x9b,
  USE_ANOTHER_SERVER: 0x9c,
  SERVER_MOVED: 0x9d,
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: 0x9e,
  CONNECTION_RATE_EXCEEDED: 0x9f,
  MAXIMUM_CONNECT_TIME: 0xa0,
  SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: 0xa1,
  WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: 0xa2,
} as const

/** MQTT 3.1.1 CONNACK return codes (section 3.2.2.3). */
export const RC3 = {
  ACCEPTED: 0,
  UNACCEPTABLE_PROTOCOL_VERSION: 1,
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  BAD_USERNAME_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5,
} as const

/** Map a v5 CONNACK reason code to the nearest 3.1.1 return code. */
export function connackCodeV3 (rc5: number): number {
  switch (rc5) {
    case RC.SUCCESS: return RC3.ACCEPTED
    case RC.UNSUPPORTED_PROTOCOL_VERSION: return RC3.UNACCEPTABLE_PROTOCOL_VERSION
    case RC.CLIENT_IDENTIFIER_NOT_VALID: return RC3.IDENTIFIER_REJECTED
    case RC.BAD_USER_NAME_OR_PASSWORD: return RC3.BAD_USERNAME_OR_PASSWORD
    case RC.NOT_AUTHORIZED:
    case RC.BANNED: return RC3.NOT_AUTHORIZED
    default: return RC3.SERVER_UNAVAILABLE
  }
}

/**
 * An error the core gives to code that uses it (the CLI, the Node-RED nodes): `code` says what
 * happened (callers test the code, never the message text, which is for people).
 */
export class HearthError extends Error {
  constructor (readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'HearthError'
  }
}

/**
 * A persistence folder that cannot be used: code HEARTH_STORE_BUSY when another broker holds it
 * (in this process or another), HEARTH_STORE_UNUSABLE otherwise (permissions, a file in the way,
 * a store written by a newer Hearth). `reason` says why, without the folder.
 */
export class StoreError extends HearthError {
  constructor (code: 'HEARTH_STORE_BUSY' | 'HEARTH_STORE_UNUSABLE', readonly dir: string, readonly reason: string, cause?: unknown) {
    super(code, `FilePersistence: cannot use directory ${dir}: ${reason}`, { cause })
  }
}

/**
 * A protocol violation by the peer. The dispatcher catches it, sends a DISCONNECT with
 * `reasonCode` to MQTT 5 clients, and closes that one connection.
 */
export class ProtocolError extends Error {
  readonly reasonCode: number
  constructor (reasonCode: number, message: string) {
    super(message)
    this.name = 'ProtocolError'
    this.reasonCode = reasonCode
  }
}

/** Human readable name of a disconnect reason, used in events. */
export function reasonName (code: number): string {
  for (const [k, v] of Object.entries(RC)) {
    if (v === code && k !== 'SUCCESS' && k !== 'GRANTED_QOS_0') return k.toLowerCase().replace(/_/g, ' ')
  }
  return code === 0 ? 'normal disconnection' : `reason 0x${code.toString(16)}`
}

/** A refusal carrying an MQTT reason code (code HEARTH_REFUSED), as in-process clients and the public API reject with. */
export class ReasonError extends HearthError {
  constructor (readonly reasonCode: number, message: string) {
    super('HEARTH_REFUSED', message)
  }
}

export function reasonError (reasonCode: number, message: string): ReasonError {
  return new ReasonError(reasonCode, message)
}
