/** The hearth-subscribe node: shared by the runtime and the editor. */
import type { OutputFormat } from '../shared/formats'

export const TYPE = 'hearth-subscribe'

export interface SubscribeNodeConfig {
  name: string
  /** Id of the hearth-connection config node. */
  connection: string
  /** Topic filter; empty in dynamic mode. */
  topic: string
  qos: string | number
  datatype: OutputFormat
  /** MQTT 5 No Local. */
  nl: boolean
  /** MQTT 5 Retain As Published. */
  rap: boolean
  /** MQTT 5 Retain Handling: 0 send retained, 1 only for new subscriptions, 2 never. */
  rh: string | number
  /** Dynamic mode: no fixed topic, subscriptions come from `msg.action` on the input. */
  dynamic: boolean
  /** 1 in dynamic mode (the node gets an input), else 0. */
  inputs: number
}

export const DEFAULTS: SubscribeNodeConfig = {
  name: '',
  connection: '',
  topic: '',
  qos: '2',
  datatype: 'auto',
  nl: false,
  rap: true,
  rh: '0',
  dynamic: false,
  inputs: 0,
}

export const ACTIONS = ['subscribe', 'unsubscribe', 'getSubscriptions'] as const
/** With an external connection, also core's connect and disconnect (with `msg.broker` overrides). */
export const EXTERNAL_ACTIONS = [...ACTIONS, 'connect', 'disconnect'] as const
