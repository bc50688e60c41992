// Flows for the connection, publish and subscribe specs: a broker on port 0, one connection config
// node, and the nodes under test on tab f1 (regular nodes need x/y, or Node-RED takes them for config nodes).

type Props = Record<string, unknown>
const at = { z: 'f1', x: 100, y: 100 }

export const tab = { id: 'f1', type: 'tab', label: 'hearth' }

export function broker (props: Props = {}): Props {
  return { id: 'broker', type: 'hearth-broker', ...at, name: '', port: 0, host: '127.0.0.1', wires: [['events']], ...props }
}

export function connection (props: Props = {}, id = 'conn'): Props {
  return { id, type: 'hearth-connection', name: '', brokerType: 'local', broker: 'broker', clientId: '', protocolVersion: '5', keepalive: 60, clean: true, sessionExpiry: 0, ...props }
}

export function publish (props: Props = {}, id = 'pub'): Props {
  return { id, type: 'hearth-publish', ...at, connection: 'conn', topic: '', qos: '', retain: '', wires: [], ...props }
}

export function subscribe (props: Props = {}, id = 'sub', out = 'out'): Props {
  return { id, type: 'hearth-subscribe', ...at, connection: 'conn', topic: '#', qos: '2', datatype: 'auto', nl: false, rap: true, rh: '0', dynamic: false, inputs: 0, wires: [[out]], ...props }
}

export function helperNode (id: string): Props {
  return { id, type: 'helper', ...at, wires: [] }
}

/** Catch and complete nodes scoped to `target`, reporting into helper nodes `caught` and `completed`. */
export function observers (target: string): Props[] {
  return [
    { id: 'catch', type: 'catch', ...at, scope: [target], uncaught: false, wires: [['caught']] },
    { id: 'complete', type: 'complete', ...at, scope: [target], uncaught: false, wires: [['completed']] },
    helperNode('caught'),
    helperNode('completed'),
  ]
}

/** tab + broker + events helper + connection + extra nodes. */
export function flow (nodes: Props[], options: { broker?: Props, connection?: Props } = {}): Props[] {
  return [tab, broker(options.broker), helperNode('events'), connection(options.connection), ...nodes]
}

/** An external connection config node (MQTT.js) to `url`. */
function external (url: string, props: Props = {}, id = 'conn'): Props {
  return { id, type: 'hearth-connection', name: '', brokerType: 'external', url, tls: '', autoConnect: true, clientId: '', protocolVersion: '5', keepalive: 60, clean: true, sessionExpiry: 0, ...props }
}

/** A core tls-config node with file paths (as the editor stores them). */
export function tlsConfig (files: { ca?: string, cert?: string, key?: string }, props: Props = {}, id = 'tls'): Props {
  return { id, type: 'tls-config', name: '', cert: files.cert ?? '', key: files.key ?? '', ca: files.ca ?? '', certname: '', keyname: '', caname: '', servername: '', verifyservercert: true, alpnprotocol: '', ...props }
}

/** A flow of nodes on tab f1 around an external connection (no broker node). */
export function externalFlow (url: string, nodes: Props[], conn: Props = {}): Props[] {
  return [tab, external(url, conn), ...nodes]
}
