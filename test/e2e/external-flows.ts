// The flow the external-broker end-to-end spec deploys: connections to a real Mosquitto over TCP
// (through a proxy the test can cut), TCP direct, TLS (core tls-config node), a password listener
// (connect automatically off), and Hearth's own WebSocket listener. Everything the flow does is
// reported back to Mosquitto under e2e/..., where the test watches.

export interface ExternalUrls {
  /** mqtt:// through the test's TCP proxy (for the will). */
  proxied: string
  direct: string
  tls: string
  auth: string
  ws: string
  caFile: string
  username: string
  password: string
}

const z = 'e2x0000000000001'
const at = (x: number, y: number): { z: string, x: number, y: number } => ({ z, x, y })
const CONN = { type: 'hearth-connection', name: '', tls: '', autoConnect: true, clientId: '', protocolVersion: '5', keepalive: '60', clean: true, sessionExpiry: '0', brokerType: 'external' }
const PUB = { type: 'hearth-publish', name: '', topic: '', qos: '', retain: '', contentType: '', responseTopic: '', correlationData: '', userProperties: '', messageExpiryInterval: '' }
const SUB = { type: 'hearth-subscribe', name: '', qos: '1', datatype: 'auto', nl: false, rap: true, rh: '0', dynamic: false, inputs: 0 }
const fn = (id: string, func: string, wires: string[][], x: number, y: number): object => ({ id, type: 'function', name: id, func, outputs: wires.length, noerr: 0, initialize: '', finalize: '', libs: [], ...at(x, y), wires })

export const BURST = 300000
export const IDS = { burst: 'e2xi-burst', base: 'e2xi-base', tcp: 'e2xc-tcp', direct: 'e2xc-direct', act: 'e2xc-act' }

/** inject -> generator -> `target`; a Complete node on `target` reports e2e/<name>-done with the time of the last done(). */
function burstPath (name: string, target: { id: string, [key: string]: unknown }, y: number): object[] {
  const send = `const t0 = Date.now(); const pad = 'x'.repeat(92); for (let i = 0; i < ${BURST}; i++) node.send([{ payload: String(i).padStart(8, '0') + pad }, null], false); return [null, { topic: 'e2e/${name}-sent', payload: { loopMs: Date.now() - t0 } }]`
  const count = `const n = (context.get('n') || 0) + 1; context.set('n', n); if (n === ${BURST}) return { topic: 'e2e/${name}-done', payload: { done: n, at: Date.now() } }; return null`
  return [
    { id: `e2xi-${name}`, type: 'inject', ...at(150, y), name, props: [{ p: 'payload' }], repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', payload: '', payloadType: 'date', wires: [[`e2xf-gen-${name}`]] },
    fn(`e2xf-gen-${name}`, send, [[target.id], ['e2xp-direct']], 350, y),
    target,
    { id: `e2xcomplete-${name}`, type: 'complete', ...at(350, y + 40), name: '', scope: [target.id], uncaught: false, wires: [[`e2xf-count-${name}`]] },
    fn(`e2xf-count-${name}`, count, [['e2xp-direct']], 550, y + 40),
  ]
}

export function externalFlow (u: ExternalUrls): object[] {
  return [
    { id: z, type: 'tab', label: 'external brokers' },
    { id: 'e2xtls', type: 'tls-config', name: 'test CA', cert: '', key: '', ca: u.caFile, certname: '', keyname: '', caname: '', servername: '', verifyservercert: true, alpnprotocol: '' },
    {
      id: IDS.tcp, ...CONN, url: u.proxied, clientId: 'e2e-tcp',
      birthTopic: 'e2e/status', birthPayload: 'online', birthQos: '1', birthRetain: false,
      closeTopic: 'e2e/status', closePayload: 'offline', closeQos: '1', closeRetain: false,
      willTopic: 'e2e/status', willPayload: 'lost', willQos: '1', willRetain: false, reconnectDelay: '200',
    },
    { id: IDS.direct, ...CONN, url: u.direct, clientId: 'e2e-direct' },
    { id: 'e2xc-tls', ...CONN, url: u.tls, tls: 'e2xtls', clientId: 'e2e-tls' },
    { id: 'e2xc-ws', ...CONN, url: u.ws, clientId: 'e2e-ws', protocolVersion: '4' },
    { id: IDS.act, ...CONN, url: u.auth, autoConnect: false, clientId: 'e2e-act', credentials: { username: u.username, password: u.password } },

    // Subscribe over each transport; echo to Mosquitto as e2e/echo/<transport>.
    { id: 'e2xs-tcp', ...SUB, ...at(150, 60), connection: IDS.tcp, topic: 'e2e/in/tcp', wires: [['e2xf-echo']] },
    { id: 'e2xs-tls', ...SUB, ...at(150, 100), connection: 'e2xc-tls', topic: 'e2e/in/tls', wires: [['e2xf-echo']] },
    { id: 'e2xs-ws', ...SUB, ...at(150, 140), connection: 'e2xc-ws', topic: 'e2e/in/ws', wires: [['e2xf-echo']] },
    fn('e2xf-echo', "msg.topic = msg.topic.replace('e2e/in/', 'e2e/echo/'); return msg", [['e2xp-direct']], 350, 100),
    { id: 'e2xp-direct', ...PUB, ...at(550, 100), connection: IDS.direct, qos: '1', wires: [] },

    // Publish over each transport: e2e/fwd/<transport> comes in over TCP, goes out as e2e/back/<transport>.
    { id: 'e2xs-fwd', ...SUB, ...at(150, 200), connection: IDS.direct, topic: 'e2e/fwd/+', wires: [['e2xf-fwd']] },
    fn('e2xf-fwd', "const kind = msg.topic.split('/')[2]; msg.topic = 'e2e/back/' + kind; return ['tcp', 'tls', 'ws'].map((k) => (k === kind ? msg : null))", [['e2xp-tcp'], ['e2xp-tls'], ['e2xp-ws']], 350, 200),
    { id: 'e2xp-tcp', ...PUB, ...at(550, 180), connection: IDS.tcp, qos: '1', wires: [] },
    { id: 'e2xp-tls', ...PUB, ...at(550, 200), connection: 'e2xc-tls', qos: '1', wires: [] },
    { id: 'e2xp-ws', ...PUB, ...at(550, 220), connection: 'e2xc-ws', qos: '1', wires: [] },

    // Commands as JSON on e2e/cmd/sub (into the dynamic subscribe node) and e2e/cmd/pub (into a publish node).
    { id: 'e2xs-cmd', ...SUB, ...at(150, 300), connection: IDS.direct, topic: 'e2e/cmd/+', datatype: 'json', wires: [['e2xf-cmd']] },
    fn('e2xf-cmd', "const c = msg.payload; return msg.topic.endsWith('/sub') ? [c, null] : [null, c]", [['e2xs-dyn'], ['e2xp-act']], 350, 300),
    { id: 'e2xs-dyn', ...SUB, ...at(550, 280), connection: IDS.act, topic: '', dynamic: true, inputs: 1, wires: [['e2xf-dyn']] },
    { id: 'e2xp-act', ...PUB, ...at(550, 320), connection: IDS.act, wires: [] },
    fn('e2xf-dyn', "return { topic: 'e2e/dyn', payload: { topic: msg.topic, payload: msg.payload } }", [['e2xp-direct']], 750, 280),
    { id: 'e2xcomplete', type: 'complete', ...at(350, 380), name: '', scope: ['e2xs-dyn', 'e2xp-act'], uncaught: false, wires: [['e2xf-done']] },
    fn('e2xf-done', "return { topic: 'e2e/done', payload: { node: msg.complete.source.id, action: msg.action || null, subscriptions: msg.subscriptions || null } }", [['e2xp-direct']], 550, 380),
    { id: 'e2xcatch', type: 'catch', ...at(350, 420), name: '', scope: ['e2xs-dyn', 'e2xp-act'], uncaught: false, wires: [['e2xf-err']] },
    fn('e2xf-err', "return { topic: 'e2e/error', payload: { node: msg.error.source.id, action: msg.action || null, error: String(msg.error.message) } }", [['e2xp-direct']], 550, 420),

    // The burst: one inject, a function that sends BURST messages at once (100-byte payloads that
    // start with the sequence number), a publish node (QoS 0) on the proxied connection, which the
    // test stalls for a while; a Complete node counts done() and reports when the last one came.
    ...burstPath('burst', { id: 'e2xp-burst', ...PUB, ...at(550, 500), connection: IDS.tcp, topic: 'e2e/burst', qos: '0', wires: [] }, 500),
    // The baseline: the same burst into an inactive debug node, to tell Node-RED's own cost of
    // delivering it from the publish node's.
    ...burstPath('base', { id: 'e2xp-base', type: 'debug', ...at(550, 600), name: '', active: false, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', wires: [] }, 600),
  ]
}
