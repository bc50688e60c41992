/** The clients a connection config node can drive: in-process and external (MQTT.js). */
export { InProcessClient } from './local'
export { ExternalClient, backoff } from './external'
export type { TlsOptions } from './mqttjs'
export type { ClientEvents, ClientStats, ConnectionClient } from './types'
