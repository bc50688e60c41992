import { COLOR, intIn, jsonObject } from '../shared/editor-util'
import { isValidTopicName } from '../shared/topics'
import { TYPE as BROKER_TYPE } from '../hearth-broker/types'
import { DEFAULTS, TYPE } from './types'

const optionalTopic = (v: unknown): boolean => v === '' || v === undefined || isValidTopicName(v)

RED.nodes.registerType(TYPE, {
  category: 'config',
  color: COLOR,
  defaults: {
    name: { value: DEFAULTS.name },
    brokerType: { value: DEFAULTS.brokerType, validate: (v) => v === 'local' },
    broker: {
      value: DEFAULTS.broker,
      required: true,
      validate: (v) => typeof v === 'string' && v !== '' && RED.nodes.node(v)?.type === BROKER_TYPE,
    },
    url: { value: DEFAULTS.url },
    clientId: { value: DEFAULTS.clientId },
    protocolVersion: { value: DEFAULTS.protocolVersion, validate: (v) => String(v) === '4' || String(v) === '5' },
    keepalive: { value: DEFAULTS.keepalive, validate: intIn(0, 65535) },
    clean: { value: DEFAULTS.clean },
    sessionExpiry: { value: DEFAULTS.sessionExpiry, validate: intIn(0, 4294967295, true) },
    birthTopic: { value: DEFAULTS.birthTopic, validate: optionalTopic },
    birthPayload: { value: DEFAULTS.birthPayload },
    birthQos: { value: DEFAULTS.birthQos },
    birthRetain: { value: DEFAULTS.birthRetain },
    closeTopic: { value: DEFAULTS.closeTopic, validate: optionalTopic },
    closePayload: { value: DEFAULTS.closePayload },
    closeQos: { value: DEFAULTS.closeQos },
    closeRetain: { value: DEFAULTS.closeRetain },
    willTopic: { value: DEFAULTS.willTopic, validate: optionalTopic },
    willPayload: { value: DEFAULTS.willPayload },
    willQos: { value: DEFAULTS.willQos },
    willRetain: { value: DEFAULTS.willRetain },
    willDelay: { value: DEFAULTS.willDelay, validate: intIn(0, 4294967295, true) },
    willContentType: { value: DEFAULTS.willContentType },
    willResponseTopic: { value: DEFAULTS.willResponseTopic, validate: optionalTopic },
    willExpiry: { value: DEFAULTS.willExpiry, validate: intIn(0, 4294967295, true) },
    willUserProperties: { value: DEFAULTS.willUserProperties, validate: jsonObject },
  },
  credentials: {
    username: { type: 'text' },
    password: { type: 'password' },
  },
  paletteLabel () { return this._('hearth-connection.paletteLabel') },
  label () {
    if (this.name) return this.name
    const broker = typeof this.broker === 'string' ? RED.nodes.node(this.broker) : null
    const target = broker ? (broker.name || `${this._('hearth-connection.label.broker')} :${String(broker.port)}`) : this._('hearth-connection.label.noBroker')
    return `${String(this.clientId || this._('hearth-connection.label.autoClientId'))} @ ${target}`
  },
  oneditprepare () {
    const select = $('#node-config-input-broker')
    select.empty()
    let count = 0
    RED.nodes.eachNode((n) => {
      if (n.type !== BROKER_TYPE) return
      count++
      const label = n.name || `${this._('hearth-connection.label.broker')} :${String(n.port)}`
      select.append($('<option></option>').attr('value', n.id).text(label))
    })
    if (count === 0) select.append($('<option value=""></option>').text(this._('hearth-connection.label.noBroker')))
    if (typeof this.broker === 'string' && this.broker !== '') select.val(this.broker)
    $('#hearth-connection-clientid-hint').text(this._('hearth-connection.tip.clientId', { id: `hearth-${this.id}` }))

    const protocol = $('#node-config-input-protocolVersion')
    const clean = $('#node-config-input-clean')
    const update = (): void => {
      const v5 = String(protocol.val()) === '5'
      $('.hearth-v5').toggle(v5)
      $('#hearth-connection-expiry-row').toggle(v5)
      $('#hearth-connection-clean-hint').toggle(!v5 && !clean.is(':checked'))
    }
    protocol.on('change', update)
    clean.on('change', update)
    update()
  },
})
