// Flows for hearth-broker-bridges.spec.ts: a broker node with bridges, as the current editor saves them.
import { currentFlow, type BrokerOptions } from './broker.flows'

type Props = Record<string, unknown>

/** A bridge as the dialog saves it: strings from the form, one rule unless given. */
export function bridge (props: Props = {}): Props {
  return {
    id: 'b-cloud', name: 'cloud', url: 'mqtt://127.0.0.1:1', tls: '', protocolVersion: '', clientId: 'house1', keepalive: '', cleanSession: false, username: '',
    topics: [{ pattern: 'home/#', direction: 'both', qos: '1', localPrefix: '', remotePrefix: 'house1/' }],
    // Reconnect fast in tests (a flow may give Mosquitto's restart_timeout; the dialog does not show it).
    restartTimeout: 0.3,
    ...props,
  }
}

/** A broker node (one loopback listener on port 0, in memory) with `bridges`, wired to the events helper. */
export function bridgedFlow (bridges: Props[], options: BrokerOptions = {}, extra: object[] = []): object[] {
  return currentFlow({ persistence: false, bridges, ...options }, extra)
}

/** A core tls-config node reading its files. */
export function tlsConfig (id: string, files: { ca?: string, cert?: string, key?: string }, props: Props = {}): Props {
  return { id, type: 'tls-config', name: '', cert: files.cert ?? '', key: files.key ?? '', ca: files.ca ?? '', certname: '', keyname: '', caname: '', servername: '', verifyservercert: true, alpnprotocol: '', ...props }
}
