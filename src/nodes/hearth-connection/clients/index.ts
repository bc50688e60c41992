/** The clients a connection config node can drive: in-process and external (MQTT.js). */
export { InProcessClient, CLOSE_TIMEOUT_MS, type LocalSettings } from './local'
export { ExternalClient, backoff, type ExternalClientSettings } from './external'
export type { TlsOptions } from './mqttjs'
export type { ClientEvents, ClientStats, ConnectionClient } from './types'
