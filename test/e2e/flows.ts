// Flows deployed through POST /flows by the end-to-end spec.

/** An echo: network clients publish to in/<x>, Hearth subscribes, renames to echo/in/<x> and publishes back. */
export function echoFlow (port: number, name = 'echo'): object[] {
  const z = 'e2e0000000000001'
  return [
    { id: z, type: 'tab', label: name },
    { id: 'e2e0000000000002', type: 'hearth-broker', z, name, port: String(port), host: '127.0.0.1', mqtt31: true, mqtt311: true, mqtt5: true, allowAnonymous: true, maximumQoS: '2', retainAvailable: true, x: 150, y: 60, wires: [[]] },
    { id: 'e2e0000000000003', type: 'hearth-connection', name: 'e2e', brokerType: 'local', broker: 'e2e0000000000002', clientId: '', protocolVersion: '5', keepalive: '60', clean: false, sessionExpiry: '600' },
    { id: 'e2e0000000000004', type: 'hearth-subscribe', z, name: '', connection: 'e2e0000000000003', topic: 'in/#', qos: '1', datatype: 'buffer', nl: false, rap: true, rh: '0', dynamic: false, inputs: 0, x: 150, y: 120, wires: [['e2e0000000000005']] },
    { id: 'e2e0000000000005', type: 'change', z, name: '', rules: [{ t: 'set', p: 'topic', pt: 'msg', to: '"echo/" & topic', tot: 'jsonata' }], x: 350, y: 120, wires: [['e2e0000000000006']] },
    { id: 'e2e0000000000006', type: 'hearth-publish', z, name: '', connection: 'e2e0000000000003', topic: '', qos: '1', retain: '', x: 550, y: 120, wires: [] },
  ]
}

/** A second broker node on a port that is already taken. */
export function portClashFlow (port: number): object[] {
  const flow = echoFlow(port)
  return [...flow, { id: 'e2e0000000000010', type: 'hearth-broker', z: 'e2e0000000000001', name: 'clash', port: String(port), host: '127.0.0.1', x: 150, y: 200, wires: [[]] }]
}
