// Flows for the broker-node end-to-end spec (listeners, TLS, WebSocket, users and ACL), deployed with POST /flows.
import type { TestCerts } from '../listeners/certs'

const TAB = 'bn00000000000001'
export const BROKER = 'bn00000000000002'
const CONN = 'bn00000000000003'

type Props = Record<string, unknown>

function tab (label: string): Props {
  return { id: TAB, type: 'tab', label }
}

/** A broker node as the current editor saves it. */
function broker (props: Props): Props {
  return {
    id: BROKER, type: 'hearth-broker', z: TAB, name: '', x: 150, y: 60, wires: [['bn00000000000004']],
    port: '', host: '', tls: '', mqtt31: true, mqtt311: true, mqtt5: true, allowAnonymous: true,
    usernames: [], aclEnabled: false, acl: [], maximumQoS: '2', retainAvailable: true, persistence: false,
    ...props,
  }
}

/**
 * The broker's events, republished by the flow on `events/<event>` (JSON), and an echo: what arrives
 * on `in/<x>` goes back out on `echo/in/<x>`. Both through an in-process connection without a user name.
 */
function flowNodes (): Props[] {
  return [
    { id: CONN, type: 'hearth-connection', name: 'flows', brokerType: 'local', broker: BROKER, clientId: 'e2e-flows', protocolVersion: '5', keepalive: '60', clean: true, sessionExpiry: '0' },
    { id: 'bn00000000000004', type: 'change', z: TAB, name: 'events', rules: [{ t: 'set', p: 'topic', pt: 'msg', to: '"events/" & topic', tot: 'jsonata' }], x: 350, y: 60, wires: [['bn00000000000005']] },
    { id: 'bn00000000000005', type: 'hearth-publish', z: TAB, name: '', connection: CONN, topic: '', qos: '0', retain: 'false', x: 550, y: 60, wires: [] },
    { id: 'bn00000000000006', type: 'hearth-subscribe', z: TAB, name: '', connection: CONN, topic: 'in/#', qos: '1', datatype: 'buffer', nl: false, rap: false, rh: '0', dynamic: false, inputs: 0, x: 150, y: 120, wires: [['bn00000000000007']] },
    { id: 'bn00000000000007', type: 'change', z: TAB, name: 'echo', rules: [{ t: 'set', p: 'topic', pt: 'msg', to: '"echo/" & topic', tot: 'jsonata' }], x: 350, y: 120, wires: [['bn00000000000008']] },
    { id: 'bn00000000000008', type: 'hearth-publish', z: TAB, name: '', connection: CONN, topic: '', qos: '1', retain: 'false', x: 550, y: 120, wires: [] },
  ]
}

/** A core tls-config node reading its files, as the editor saves it. */
function tlsConfig (certs: TestCerts): Props {
  return { id: 'bn00000000000009', type: 'tls-config', name: 'server', cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, certname: '', keyname: '', caname: '', servername: '', verifyservercert: true, alpnprotocol: '' }
}

/** A core websocket in node on /ws whose messages a websocket out node sends back (an echo). */
function coreWebsocket (wsPath: string): Props[] {
  return [
    { id: 'bn0000000000000a', type: 'websocket-listener', path: wsPath, wholemsg: 'false' },
    { id: 'bn0000000000000b', type: 'websocket in', z: TAB, name: '', server: 'bn0000000000000a', client: '', x: 150, y: 200, wires: [['bn0000000000000c']] },
    { id: 'bn0000000000000c', type: 'websocket out', z: TAB, name: '', server: 'bn0000000000000a', client: '', x: 350, y: 200, wires: [] },
  ]
}

export interface Ports { mqtt: number, mqtts: number, ws: number, wss: number }

/** Every listener kind at once, on loopback, a core websocket node on /ws next to the broker's /mqtt on Node-RED's port. */
export function allKindsFlow (ports: Ports, certs: TestCerts): Props[] {
  const tls = tlsConfig(certs)
  return [
    tab('all listeners'),
    tls,
    broker({
      tls: tls.id,
      listeners: [
        { kind: 'mqtt', port: String(ports.mqtt), host: '127.0.0.1' },
        { kind: 'mqtts', port: String(ports.mqtts), host: '127.0.0.1' },
        { kind: 'ws', port: String(ports.ws), host: '127.0.0.1', path: '/mqtt' },
        { kind: 'wss', port: String(ports.wss), host: '127.0.0.1', path: '' },
        { kind: 'nodered', path: '/mqtt' },
      ],
    }),
    ...flowNodes(),
    ...coreWebsocket('/ws'),
  ]
}

/** Mutual TLS: a certificate signed by the CA is required and its CN is the user name; the ACL gives each device its own topics. */
export function mutualTlsFlow (port: number, certs: TestCerts): Props[] {
  const tls = tlsConfig(certs)
  return [
    tab('mutual TLS'),
    tls,
    broker({
      tls: tls.id,
      allowAnonymous: false,
      listeners: [{ kind: 'mqtts', port: String(port), host: '127.0.0.1', requireCertificate: true, useIdentityAsUsername: true }],
      aclEnabled: true,
      acl: [{ who: 'pattern', access: 'readwrite', topic: 'sensors/%u/#' }],
    }),
    ...flowNodes(),
  ]
}

/** The household of docs/pending/access.md: Home Assistant, a dashboard, plugs by user name, anonymous clients read the weather. */
export function householdFlow (port: number, passwords: Record<string, string>): Props[] {
  const node = broker({
    listeners: [{ kind: 'mqtt', port: String(port), host: '127.0.0.1' }],
    usernames: Object.keys(passwords),
    aclEnabled: true,
    acl: [
      { who: 'anonymous', access: 'read', topic: 'weather/#' },
      { who: 'user', user: 'homeassistant', access: 'readwrite', topic: 'home/#' },
      { who: 'user', user: 'homeassistant', access: 'readwrite', topic: 'lock/#' },
      { who: 'user', user: 'homeassistant', access: 'readwrite', topic: 'weather/#' },
      { who: 'user', user: 'dashboard', access: 'read', topic: 'home/#' },
      { who: 'user', user: 'dashboard', access: 'read', topic: 'weather/#' },
      { who: 'pattern', access: 'write', topic: 'home/plug/%u/state' },
      { who: 'pattern', access: 'read', topic: 'home/plug/%u/set' },
      { who: 'pattern', access: 'deny', topic: 'lock/#' },
    ],
    credentials: { newPasswords: JSON.stringify(Object.fromEntries(Object.entries(passwords).map(([u, p]) => [u, { password: p }]))) },
  })
  return [tab('household'), node, ...flowNodes()]
}

/** A broker node saved before listeners and the users table: port, bind address and one account. */
export function legacyFlow (port: number): Props[] {
  return [
    tab('legacy'),
    {
      id: BROKER, type: 'hearth-broker', z: TAB, name: 'old', port: String(port), host: '127.0.0.1', mqtt31: true, mqtt311: true, mqtt5: true,
      allowAnonymous: false, maxConnections: '10000', maxPacketSize: '268435455', maxInflight: '100', maxQueuedMessages: '1000', maxKeepalive: '0',
      maximumQoS: '2', retainAvailable: true, persistenceDir: '', x: 150, y: 60, wires: [[]], credentials: { username: 'old', password: 'old-pw' },
    },
  ]
}

/** A broker node left at its defaults (one listener, every interface), only the port changed. */
export function defaultFlow (port: number): Props[] {
  return [tab('default'), broker({ listeners: [{ kind: 'mqtt', port: String(port), host: '' }], wires: [[]] })]
}

/** The broker on Node-RED's port under `path`, next to a core websocket node on /ws. */
export function nodeRedPortFlow (path: string): Props[] {
  return [tab('on Node-RED\'s port'), broker({ listeners: [{ kind: 'nodered', path }] }), ...flowNodes(), ...coreWebsocket('/ws')]
}

/** An empty tab: every broker node deleted. */
export function emptyFlow (): Props[] {
  return [tab('empty')]
}
