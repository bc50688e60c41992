/**
 * Hearth's listeners: MQTT over TCP, TLS, WebSocket and secure WebSocket on their own ports, and
 * MQTT over WebSocket attached to an existing HTTP(S) server. They use the core only through its
 * public API (Broker.handle with PeerInfo).
 */
export { MqttListener, checkListenerOptions } from './listener'
export { attachWebSocket, WebSocketAttachment } from './attach'
export { ListenerError, type ListenerErrorCode } from './errors'
export { forwardedAddress, commonName } from './peer'
export type {
  ListenerOptions, ListenerProtocol, AttachOptions, AcceptOptions, TlsSettings, Pem, VerifyClient, VerifyClientInfo,
  ClientErrorHandler,
} from './types'
