import { COLOR, intIn, jsonObject } from '../shared/editor-util'
import { isValidTopicName } from '../shared/topics'
import { TYPE as BROKER_TYPE } from '../hearth-broker/types'
import { DEFAULTS, EXTERNAL_LIMITS, TYPE } from './types'
import { isValidBrokerUrl } from './url'

const optionalTopic = (v: unknown): boolean => v === '' || v === undefined || isValidTopicName(v)

/** A limit of the external connection: empty takes the default. */
const limit = (key: string): ReturnType<typeof intIn> => {
  const l = EXTERNAL_LIMITS.find(([k]) => k === key)
  return l ? intIn(l[1], l[2], true) : undefined
}

/** The broker type being edited: the form's when the dialog is open, else the node's. */
function brokerTypeOf (node: Record<string, unknown>): unknown {
  const field = $('#node-config-input-brokerType')
  return field.length > 0 ? field.val() : node.brokerType
}

RED.nodes.registerType(TYPE, {
  category: 'config',
  color: COLOR,
  defaults: {
    name: { value: DEFAULTS.name },
    brokerType: { value: DEFAULTS.brokerType, validate: (v) => v === 'local' || v === 'external' },
    broker: {
      value: DEFAULTS.broker,
      validate: function (v) { return brokerTypeOf(this) === 'external' || (typeof v === 'string' && v !== '' && RED.nodes.node(v)?.type === BROKER_TYPE) },
    },
    url: { value: DEFAULTS.url, validate: function (v) { return brokerTypeOf(this) !== 'external' || isValidBrokerUrl(v) } },
    tls: { value: DEFAULTS.tls, type: 'tls-config', required: false },
    autoConnect: { value: DEFAULTS.autoConnect },
    queueMaxMessages: { value: DEFAULTS.queueMaxMessages, validate: limit('queueMaxMessages') },
    queueMaxBytes: { value: DEFAULTS.queueMaxBytes, validate: limit('queueMaxBytes') },
    maxInflight: { value: DEFAULTS.maxInflight, validate: limit('maxInflight') },
    maxSubscriptions: { value: DEFAULTS.maxSubscriptions, validate: limit('maxSubscriptions') },
    reconnectDelay: { value: DEFAULTS.reconnectDelay, validate: limit('reconnectDelay') },
    reconnectDelayMax: { value: DEFAULTS.reconnectDelayMax, validate: limit('reconnectDelayMax') },
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
    const id = String(this.clientId || this._('hearth-connection.label.autoClientId'))
    if (this.brokerType === 'external') return `${id} @ ${String(this.url || this._('hearth-connection.label.external'))}`
    const broker = typeof this.broker === 'string' ? RED.nodes.node(this.broker) : null
    const target = broker ? (broker.name || `${this._('hearth-connection.label.broker')} :${String(broker.port)}`) : this._('hearth-connection.label.noBroker')
    return `${id} @ ${target}`
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
    // Nodes saved before the option existed connect automatically, as core's do.
    if (this.autoConnect === undefined) $('#node-config-input-autoConnect').prop('checked', true)

    const brokerType = $('#node-config-input-brokerType')
    const protocol = $('#node-config-input-protocolVersion')
    const clean = $('#node-config-input-clean')
    const update = (): void => {
      const v5 = String(protocol.val()) === '5'
      const external = String(brokerType.val()) === 'external'
      $('.hearth-local').toggle(!external)
      $('.hearth-external').toggle(external)
      $('.hearth-v5').toggle(v5)
      $('#hearth-connection-expiry-row').toggle(v5)
      $('#hearth-connection-clean-hint').toggle(!v5 && !clean.is(':checked'))
    }
    brokerType.on('change', update)
    protocol.on('change', update)
    clean.on('change', update)
    update()
  },
})
