/** The hearth-connection config node: shared by the runtime, the editor and the nodes that use it. */

export const TYPE = 'hearth-connection'

export interface ConnectionNodeConfig {
  name: string
  /** 'local': a hearth-broker node of this Node-RED. 'external' is reserved for a later release. */
  brokerType: 'local' | 'external'
  /** Id of the hearth-broker node. */
  broker: string
  /** Reserved for an external broker URL (a later release); unused. */
  url: string
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
