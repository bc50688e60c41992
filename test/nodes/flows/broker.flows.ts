// Flows for hearth-broker.spec.ts. Regular nodes sit on tab f1 (a node without z is a config node).

export interface BrokerOptions { [key: string]: unknown }

/** A broker node wired to a helper node that records its output. */
export function brokerFlow (options: BrokerOptions = {}, id = 'broker'): object[] {
  return [
    { id: 'f1', type: 'tab', label: 'broker' },
    { id, type: 'hearth-broker', z: 'f1', x: 100, y: 100, name: '', port: 0, host: '127.0.0.1', wires: [['events']], ...options },
    { id: 'events', type: 'helper', z: 'f1', x: 100, y: 100, wires: [] },
  ]
}

/** The broker with a catch node that reports errors raised by done(err). */
export function brokerWithCatch (options: BrokerOptions = {}): object[] {
  return [
    ...brokerFlow(options),
    { id: 'catch', type: 'catch', z: 'f1', x: 100, y: 100, scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'f1', x: 100, y: 100, wires: [] },
  ]
}

/** A broker node saved by the current editor: `listeners`, `usernames`, ACL rows; one loopback TCP listener unless given. */
function brokerNode (options: BrokerOptions = {}, id = 'broker'): Record<string, unknown> {
  return {
    id,
    type: 'hearth-broker',
    z: 'f1',
    x: 100,
    y: 100,
    name: '',
    listeners: [{ kind: 'mqtt', port: '0', host: '127.0.0.1' }],
    port: '',
    host: '',
    tls: '',
    usernames: [],
    aclEnabled: false,
    acl: [],
    wires: [['events']],
    ...options,
  }
}

/** The tab, a broker node as the current editor saves it, and the events helper. */
export function currentFlow (options: BrokerOptions = {}, extra: object[] = []): object[] {
  return [
    { id: 'f1', type: 'tab', label: 'broker' },
    brokerNode(options),
    { id: 'events', type: 'helper', z: 'f1', x: 100, y: 100, wires: [] },
    ...extra,
  ]
}
