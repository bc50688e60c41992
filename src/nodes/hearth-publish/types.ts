/** The hearth-publish node: shared by the runtime and the editor. */

export const TYPE = 'hearth-publish'

export interface PublishNodeConfig {
  name: string
  /** Id of the hearth-connection config node. */
  connection: string
  /** Empty: taken from `msg.topic`. */
  topic: string
  /** '' takes `msg.qos` (default 0). */
  qos: '' | '0' | '1' | '2'
  /** '' takes `msg.retain` (default false). */
  retain: '' | 'true' | 'false'
  /** MQTT 5 properties; empty ones come from the msg. */
  contentType: string
  responseTopic: string
  correlationData: string
  /** JSON object of user properties. */
  userProperties: string
  /** Seconds; empty for none. */
  messageExpiryInterval: string | number
}

export const DEFAULTS: PublishNodeConfig = {
  name: '',
  connection: '',
  topic: '',
  qos: '',
  retain: '',
  contentType: '',
  responseTopic: '',
  correlationData: '',
  userProperties: '',
  messageExpiryInterval: '',
}
