import { COLOR } from '../shared/editor-util'
import { isValidTopicFilter } from '../shared/topics'
import { DEFAULTS, TYPE } from './types'

RED.nodes.registerType(TYPE, {
  category: 'network',
  color: COLOR,
  defaults: {
    name: { value: DEFAULTS.name },
    connection: { value: DEFAULTS.connection, type: 'hearth-connection', required: true },
    topic: {
      value: DEFAULTS.topic,
      validate: function (v) { return this.dynamic === true || isValidTopicFilter(v) },
    },
    qos: { value: DEFAULTS.qos, validate: (v) => ['0', '1', '2'].includes(String(v)) },
    datatype: { value: DEFAULTS.datatype, validate: (v) => ['auto', 'string', 'buffer', 'json', 'base64'].includes(String(v)) },
    nl: { value: DEFAULTS.nl },
    rap: { value: DEFAULTS.rap },
    rh: { value: DEFAULTS.rh, validate: (v) => ['0', '1', '2'].includes(String(v)) },
    dynamic: { value: DEFAULTS.dynamic },
    inputs: { value: DEFAULTS.inputs },
  },
  inputs: 0,
  outputs: 1,
  icon: 'hearth-subscribe.svg',
  paletteLabel () { return this._('hearth-subscribe.paletteLabel') },
  label () {
    if (this.name) return this.name
    return this.dynamic === true ? this._('hearth-subscribe.label.dynamic') : String(this.topic || this._('hearth-subscribe.paletteLabel'))
  },
  labelStyle () { return this.name ? 'node_label_italic' : '' },
  inputLabels () { return this._('hearth-subscribe.label.actions') },
  outputLabels () { return this._('hearth-subscribe.label.messages') },
  oneditprepare () {
    const dynamic = $('#node-input-dynamic')
    const update = (): void => {
      const on = dynamic.is(':checked')
      $('#hearth-subscribe-topic-row').toggle(!on)
      $('#hearth-subscribe-qos-row').toggle(!on)
      $('#hearth-subscribe-dynamic-hint').toggle(on)
    }
    dynamic.on('change', update)
    update()
  },
  oneditsave () {
    this.inputs = $('#node-input-dynamic').is(':checked') ? 1 : 0
    if (this.inputs === 1) $('#node-input-topic').val('')
  },
})
