import { COLOR, intIn, jsonObject } from '../shared/editor-util'
import { isValidTopicName } from '../shared/topics'
import { DEFAULTS, TYPE } from './types'

const optionalTopic = (v: unknown): boolean => v === '' || v === undefined || isValidTopicName(v)

RED.nodes.registerType(TYPE, {
  category: 'network',
  color: COLOR,
  defaults: {
    name: { value: DEFAULTS.name },
    connection: { value: DEFAULTS.connection, type: 'hearth-connection', required: true },
    topic: { value: DEFAULTS.topic, validate: optionalTopic },
    qos: { value: DEFAULTS.qos, validate: (v) => ['', '0', '1', '2'].includes(String(v)) },
    retain: { value: DEFAULTS.retain, validate: (v) => ['', 'true', 'false'].includes(String(v)) },
    contentType: { value: DEFAULTS.contentType },
    responseTopic: { value: DEFAULTS.responseTopic, validate: optionalTopic },
    correlationData: { value: DEFAULTS.correlationData },
    userProperties: { value: DEFAULTS.userProperties, validate: jsonObject },
    messageExpiryInterval: { value: DEFAULTS.messageExpiryInterval, validate: intIn(0, 4294967295, true) },
  },
  inputs: 1,
  outputs: 0,
  align: 'right',
  icon: 'hearth-publish.svg',
  paletteLabel () { return this._('hearth-publish.paletteLabel') },
  label () { return this.name || String(this.topic || this._('hearth-publish.paletteLabel')) },
  labelStyle () { return this.name ? 'node_label_italic' : '' },
  inputLabels () { return this._('hearth-publish.label.messages') },
})
