/** The hearth-connection config node: shared by the runtime, the editor and the nodes that use it. */

export const TYPE = 'hearth-connection'

export interface ConnectionNodeConfig {
  name: string
  /** 'local': a hearth-broker node of this Node-RED (in-process); 'external': a broker at `url` (MQTT.js). */
  brokerType: 'local' | 'external'
  /** Id of the hearth-broker node (local). */
  broker: string
  /** External: `mqtt://`, `mqtts://`, `ws://` or `wss://` with host and optional port (and path for ws). */
  url: string
  /** External, mqtts/wss: id of a core `tls-config` node (certificates, verification); empty for the system CAs. */
  tls: string
  /** External: connect when the first node starts (as core); off, the connection opens on a `connect` action. */
  autoConnect: boolean
  /** External: messages waiting to be sent (while disconnected or while the socket is full). */
  queueMaxMessages: number | string
  /** External: bytes (topic + payload) of the messages waiting to be sent. */
  queueMaxBytes: number | string
  /** External: QoS 1/2 messages sent and not yet acknowledged (and at most the broker's Receive Maximum). */
  maxInflight: number | string
  /** External: distinct topic filters the connection subscribes to. */
  maxSubscriptions: number | string
  /** External: first delay before reconnecting, in ms; doubled on each failure, with jitter. */
  reconnectDelay: number | string
  /** External: longest delay between reconnect attempts, in ms. */
  reconnectDelayMax: number | string
  /** Empty: `hearth-<config node id>`, stable for the life of this config node. */
  clientId: string
  protocolVersion: '4' | '5' | 4 | 5
  keepalive: number | string
  /** Clean session (3.1.1) / clean start (5). */
  clean: boolean
  /** Session expiry interval in seconds (5), used when clean is false. */
  sessionExpiry: number | string
  birthTopic: string
  birthPayload: string
  birthQos: string | number
  birthRetain: boolean
  closeTopic: string
  closePayload: string
  closeQos: string | number
  closeRetain: boolean
  willTopic: string
  willPayload: string
  willQos: string | number
  willRetain: boolean
  /** Will delay interval in seconds (5). */
  willDelay: number | string
  willContentType: string
  willResponseTopic: string
  /** Will message expiry interval in seconds (5); empty for none. */
  willExpiry: number | string
  /** JSON object of user properties (5). */
  willUserProperties: string
}

export interface ConnectionNodeCredentials {
  username: string
  password: string
}

export const DEFAULTS: ConnectionNodeConfig = {
  name: '',
  brokerType: 'local',
  broker: '',
  url: '',
  tls: '',
  autoConnect: true,
  queueMaxMessages: 1000000,
  queueMaxBytes: 67108864,
  maxInflight: 100,
  maxSubscriptions: 10000,
  reconnectDelay: 1000,
  reconnectDelayMax: 60000,
  clientId: '',
  protocolVersion: '5',
  keepalive: 60,
  clean: true,
  sessionExpiry: 0,
  birthTopic: '',
  birthPayload: '',
  birthQos: '0',
  birthRetain: false,
  closeTopic: '',
  closePayload: '',
  closeQos: '0',
  closeRetain: false,
  willTopic: '',
  willPayload: '',
  willQos: '0',
  willRetain: false,
  willDelay: 0,
  willContentType: '',
  willResponseTopic: '',
  willExpiry: '',
  willUserProperties: '',
}

/** Limits of an external connection: config key, smallest and largest accepted value (editor and runtime). */
export const EXTERNAL_LIMITS: ReadonlyArray<readonly [keyof ConnectionNodeConfig, number, number]> = [
  ['queueMaxMessages', 0, 100000000],
  ['queueMaxBytes', 0, 17179869184],
  ['maxInflight', 1, 65535],
  ['maxSubscriptions', 1, 1000000],
  ['reconnectDelay', 100, 3600000],
  ['reconnectDelayMax', 100, 3600000],
]
