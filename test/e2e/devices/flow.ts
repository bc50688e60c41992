// Flows for the device-profile spec, deployed with POST /flows.
import { DEFAULTS as BROKER_DEFAULTS, DEFAULT_LISTENER } from '../../../src/nodes/hearth-broker/types'

const TAB = 'dev0000000000001'
const BROKER_ID = 'dev0000000000002'

/**
 * A hearth-broker node as the editor saves it when dropped from the palette: every default, only the
 * port of its one listener changed (every interface, anonymous clients allowed, no user, no ACL).
 */
function brokerNode (id: string, port: number, extra: Record<string, unknown> = {}): object {
  return {
    id, type: 'hearth-broker', z: TAB, ...BROKER_DEFAULTS,
    listeners: [{ ...DEFAULT_LISTENER, port: String(port) }], port: String(port),
    x: 150, y: 60, wires: [[]], ...extra,
  }
}

/**
 * The broker with its defaults, and a home automation rule in the flow: when a Shelly announces itself
 * on shellies/announce, switch its relay on (shellies/<id>/relay/0/command "on", QoS 1).
 */
export function devicesFlow (port: number): object[] {
  return [
    { id: TAB, type: 'tab', label: 'devices' },
    brokerNode(BROKER_ID, port),
    { id: 'dev0000000000003', type: 'hearth-connection', name: 'flows', brokerType: 'local', broker: BROKER_ID, clientId: '', protocolVersion: '5', keepalive: '60', clean: true, sessionExpiry: '0' },
    { id: 'dev0000000000004', type: 'hearth-subscribe', z: TAB, name: 'shelly announces', connection: 'dev0000000000003', topic: 'shellies/announce', qos: '1', datatype: 'json', nl: false, rap: false, rh: '0', dynamic: false, inputs: 0, x: 150, y: 120, wires: [['dev0000000000005']] },
    {
      id: 'dev0000000000005', type: 'change', z: TAB, name: 'relay on',
      rules: [
        { t: 'set', p: 'topic', pt: 'msg', to: '"shellies/" & payload.id & "/relay/0/command"', tot: 'jsonata' },
        { t: 'set', p: 'payload', pt: 'msg', to: 'on', tot: 'str' },
      ],
      x: 350, y: 120, wires: [['dev0000000000006']],
    },
    { id: 'dev0000000000006', type: 'hearth-publish', z: TAB, name: '', connection: 'dev0000000000003', topic: '', qos: '1', retain: 'false', x: 550, y: 120, wires: [] },
  ]
}

/** The broker with defaults and one user, its password sent once in the credentials as the editor does (hashed by the runtime). */
export function accountFlow (port: number, username: string, password: string): object[] {
  return [
    { id: TAB, type: 'tab', label: 'account' },
    brokerNode('dev0000000000012', port, { usernames: [username], credentials: { newPasswords: JSON.stringify({ [username]: { password } }) } }),
  ]
}
