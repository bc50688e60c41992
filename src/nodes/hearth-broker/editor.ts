import { COLOR, intIn } from '../shared/editor-util'
import type { EditorNodeInstance, EditorPropDef } from '../shared/editor-red'
import { aclProblem, anonymousSummary, setupAcl } from './editor-acl'
import { optionRanges, t } from './editor-common'
import { limitValidator, setupLimits } from './editor-limits'
import { listenersProblem, setupListeners } from './editor-listeners'
import { setupUsers, usersProblem } from './editor-users'
import {
  DEFAULTS, FLUSH_RANGE, LIMIT_KEYS, PORT_RANGE, TYPE, isSecure, listenersOf, validHost,
  type AclRow, type ListenerConfig,
} from './types'

/** A validator that names what is wrong (Node-RED shows it on the node's red triangle). */
const explain = (check: (this: EditorNodeInstance, v: unknown) => string | undefined): EditorPropDef['validate'] =>
  function (this: EditorNodeInstance, v: unknown, _opt?: unknown): boolean | string {
    const problem = check.call(this, v)
    return problem === undefined ? true : t(`invalid.${problem}`)
  }

const limitDefaults: Record<string, EditorPropDef> = {}
for (const key of LIMIT_KEYS) limitDefaults[key] = { value: '', validate: limitValidator(key) }

/** The first port or path of the node's listeners, for labels. */
function where (node: EditorNodeInstance): string {
  const first = listenersOf(node)[0] as ListenerConfig | undefined
  if (first === undefined) return ''
  return first.kind === 'nodered' ? String(first.path ?? '') : `:${String(first.port ?? '')}`
}

RED.nodes.registerType(TYPE, {
  category: 'network',
  color: COLOR,
  defaults: {
    name: { value: DEFAULTS.name },
    listeners: { value: DEFAULTS.listeners, validate: explain((v) => listenersProblem(v)) },
    // Flows saved before listeners existed keep their port and host until the node is edited.
    port: {
      value: DEFAULTS.port,
      validate: function (v) { return Array.isArray(this.listeners) || intIn(PORT_RANGE.min, PORT_RANGE.max)?.call(this, v) === true },
    },
    host: { value: DEFAULTS.host, validate: (v) => validHost(String(v ?? '')) },
    tls: {
      value: DEFAULTS.tls,
      type: 'tls-config',
      validate: explain(function (v) {
        const secure = listenersOf(this).some(l => isSecure(l.kind))
        if (!secure) return undefined
        return typeof v === 'string' && v !== '' && v !== '_ADD_' && RED.nodes.node(v) !== null ? undefined : 'tls'
      }),
    },
    mqtt31: { value: DEFAULTS.mqtt31 },
    mqtt311: { value: DEFAULTS.mqtt311 },
    mqtt5: {
      value: DEFAULTS.mqtt5,
      // At least one protocol version must stay allowed.
      validate: function (v) { return v === true || this.mqtt31 === true || this.mqtt311 === true },
    },
    allowAnonymous: { value: DEFAULTS.allowAnonymous },
    usernames: { value: DEFAULTS.usernames, validate: explain((v) => usersProblem(v)) },
    aclEnabled: { value: DEFAULTS.aclEnabled },
    acl: { value: DEFAULTS.acl, validate: explain(function (v) { return this.aclEnabled === true ? aclProblem(v) : undefined }) },
    maximumQoS: { value: DEFAULTS.maximumQoS, validate: intIn(0, 2, true) },
    retainAvailable: { value: DEFAULTS.retainAvailable },
    ...limitDefaults,
    persistence: { value: DEFAULTS.persistence },
    persistenceDir: { value: DEFAULTS.persistenceDir },
    persistenceSync: { value: DEFAULTS.persistenceSync, validate: (v) => v === undefined || v === '' || v === 'always' || v === 'periodic' },
    persistenceFlushInterval: { value: DEFAULTS.persistenceFlushInterval, validate: intIn(FLUSH_RANGE.min, FLUSH_RANGE.max, true) },
  },
  // Only what the editor sends: the runtime keeps the hashes (`userHashes`) to itself.
  credentials: {
    newPasswords: { type: 'password' },
  },
  inputs: 1,
  outputs: 1,
  icon: 'hearth-broker.svg',
  paletteLabel () { return this._('hearth-broker.paletteLabel') },
  label () { return this.name || `${this._('hearth-broker.paletteLabel')} ${where(this)}` },
  labelStyle () { return this.name ? 'node_label_italic' : '' },
  inputLabels () { return this._('hearth-broker.label.commands') },
  outputLabels () { return this._('hearth-broker.label.events') },
  oneditprepare () {
    const node = this
    const tabs = RED.tabs.create({
      id: 'hearth-broker-tabs',
      onchange (tab) {
        $('#hearth-broker-tabs-content').find('.hearth-broker-tab').hide()
        $(`#${tab.id}`).show()
      },
    })
    for (const id of ['listeners', 'access', 'messages', 'persistence']) tabs.addTab({ id: `hearth-broker-tab-${id}`, label: t(`tabs.${id}`) })

    let readAcl: () => AclRow[] = () => []
    let readListeners: () => ListenerConfig[] = () => []
    const anonymous = $('#node-input-allowAnonymous')
    const aclEnabled = $('#node-input-aclEnabled')
    const update = (): void => {
      const listeners = readListeners()
      $('#hearth-broker-tls-row').toggle(listeners.some(l => isSecure(l.kind)))
      $('#hearth-broker-acl-rows').toggle(aclEnabled.is(':checked'))
      const summary = anonymousSummary(anonymous.is(':checked'), aclEnabled.is(':checked'), readAcl())
      $('#hearth-broker-anonymous-summary').text(summary.text).toggleClass('hearth-broker-warn', summary.level === 'warn')
        .css('color', summary.level === 'warn' ? 'var(--red-ui-text-color-warning, #b06000)' : '')
    }
    readListeners = setupListeners(listenersOf(node).map(l => ({ ...l })), update)
    readAcl = setupAcl(Array.isArray(node.acl) ? (node.acl as AclRow[]).map(r => ({ ...r })) : [], update)
    const readUsers = setupUsers(node, update)
    node._hearthRead = { readListeners, readAcl, readUsers }
    anonymous.on('change', update)
    aclEnabled.on('change', update)
    setupLimits(node)
    if (optionRanges().maxPacketSize === undefined) $('#hearth-broker-limits-note').show()

    // Flows saved before these settings existed have none: persistence is on, synced always.
    const persistence = $('#node-input-persistence')
    const sync = $('#node-input-persistenceSync')
    if (node.persistence !== false) persistence.prop('checked', true)
    if (node.persistenceSync !== 'periodic') sync.val('always')
    if (node.maximumQoS === undefined || node.maximumQoS === '') $('#node-input-maximumQoS').val('2')
    $('#hearth-broker-dir-hint').text(t('tip.persistenceDir', { id: node.id }))
    const updatePersistence = (): void => {
      const periodic = String(sync.val()) === 'periodic'
      $('#hearth-broker-persistence-rows').toggle(persistence.is(':checked'))
      $('#hearth-broker-flush-row').toggle(periodic)
      $('#hearth-broker-periodic-hint').toggle(periodic)
    }
    persistence.on('change', updatePersistence)
    sync.on('change', updatePersistence)
    updatePersistence()
    update()
  },
  oneditcancel () {
    delete this._hearthRead
  },
  oneditsave () {
    const node = this
    const read = node._hearthRead as { readListeners: () => ListenerConfig[], readAcl: () => AclRow[], readUsers: () => { names: string[] | undefined, changes: Record<string, unknown> } } | undefined
    if (read === undefined) return
    delete node._hearthRead
    const listeners = read.readListeners()
    node.listeners = listeners
    // The first listener's port stays in `port` for labels (connection nodes show it).
    const first = listeners.find(l => l.kind !== 'nodered')
    node.port = first !== undefined ? String(first.port ?? '') : ''
    node.host = first !== undefined ? String(first.host ?? '') : ''
    node.acl = read.readAcl()
    const users = read.readUsers()
    if (users.names !== undefined) node.usernames = users.names
    const creds = node.credentials ?? (node.credentials = {})
    if (Object.keys(users.changes).length > 0) {
      creds.newPasswords = JSON.stringify(users.changes)
      creds.has_newPasswords = true
    } else if (typeof creds.newPasswords === 'string' && creds.newPasswords !== '__PWRD__') {
      // Changes made earlier in this session, all undone: nothing to send.
      creds.newPasswords = ''
      creds.has_newPasswords = false
    }
  },
})
