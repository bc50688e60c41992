import { COLOR, intIn } from '../shared/editor-util'
import { DEFAULTS, LIMITS, TYPE } from './types'

/** Validator for a numeric option; empty means the default (as the runtime reads it), except for the port. */
const limit = (key: string): ReturnType<typeof intIn> => {
  const l = LIMITS.find(([k]) => k === key)
  return l ? intIn(l[1], l[2], key !== 'port') : undefined
}

RED.nodes.registerType(TYPE, {
  category: 'network',
  color: COLOR,
  defaults: {
    name: { value: DEFAULTS.name },
    port: { value: DEFAULTS.port, required: true, validate: limit('port') },
    host: { value: DEFAULTS.host, validate: (v) => /^[\w.:-]*$/.test(String(v ?? '')) },
    mqtt31: { value: DEFAULTS.mqtt31 },
    mqtt311: { value: DEFAULTS.mqtt311 },
    mqtt5: {
      value: DEFAULTS.mqtt5,
      // At least one protocol version must stay allowed.
      validate: function (v) { return v === true || this.mqtt31 === true || this.mqtt311 === true },
    },
    allowAnonymous: { value: DEFAULTS.allowAnonymous },
    maxConnections: { value: DEFAULTS.maxConnections, validate: limit('maxConnections') },
    maxPacketSize: { value: DEFAULTS.maxPacketSize, validate: limit('maxPacketSize') },
    maxInflight: { value: DEFAULTS.maxInflight, validate: limit('maxInflight') },
    maxQueuedMessages: { value: DEFAULTS.maxQueuedMessages, validate: limit('maxQueuedMessages') },
    maxKeepalive: { value: DEFAULTS.maxKeepalive, validate: limit('maxKeepalive') },
    maximumQoS: { value: DEFAULTS.maximumQoS, validate: limit('maximumQoS') },
    retainAvailable: { value: DEFAULTS.retainAvailable },
    persistence: { value: DEFAULTS.persistence },
    persistenceDir: { value: DEFAULTS.persistenceDir },
    persistenceSync: { value: DEFAULTS.persistenceSync, validate: (v) => v === undefined || v === '' || v === 'always' || v === 'periodic' },
    persistenceFlushInterval: { value: DEFAULTS.persistenceFlushInterval, validate: limit('persistenceFlushInterval') },
  },
  credentials: {
    username: { type: 'text' },
    password: { type: 'password' },
  },
  inputs: 1,
  outputs: 1,
  icon: 'hearth-broker.svg',
  paletteLabel () { return this._('hearth-broker.paletteLabel') },
  label () { return this.name || `${this._('hearth-broker.paletteLabel')} :${String(this.port)}` },
  labelStyle () { return this.name ? 'node_label_italic' : '' },
  inputLabels () { return this._('hearth-broker.label.commands') },
  outputLabels () { return this._('hearth-broker.label.events') },
  oneditprepare () {
    const anonymous = $('#node-input-allowAnonymous')
    const hint = $('#hearth-broker-anonymous-hint')
    const update = (): void => { hint.toggle(!anonymous.is(':checked')) }
    anonymous.on('change', update)
    update()

    // Flows saved before these settings existed have none: persistence is on, synced always.
    const persistence = $('#node-input-persistence')
    const sync = $('#node-input-persistenceSync')
    if (this.persistence !== false) persistence.prop('checked', true)
    if (this.persistenceSync !== 'periodic') sync.val('always')
    $('#hearth-broker-dir-hint').text(this._('hearth-broker.tip.persistenceDir', { id: this.id }))
    const updatePersistence = (): void => {
      const periodic = String(sync.val()) === 'periodic'
      $('#hearth-broker-persistence-rows').toggle(persistence.is(':checked'))
      $('#hearth-broker-flush-row').toggle(periodic)
      $('#hearth-broker-periodic-hint').toggle(periodic)
    }
    persistence.on('change', updatePersistence)
    sync.on('change', updatePersistence)
    updatePersistence()
  },
})
