/**
 * The broker node's observability routes on Node-RED's admin API (behind its adminAuth):
 *   GET  /hearth-broker/:id/metrics     the node's figures in the Prometheus text format (hearth.read)
 *   GET  /hearth-broker/brokers         the broker nodes of the running flows (hearth.read)
 *   POST /hearth-broker/:id/watch       the sidebar is open: figures on comms and topic recording for a while (hearth.read)
 *   GET  /hearth-broker/:id/clients     the connected clients (hearth.read)
 *   GET  /hearth-broker/:id/topics      the topics seen and the retained messages, previews bounded (hearth.read)
 *   POST /hearth-broker/:id/disconnect  {clientId} (hearth.write)
 *   POST /hearth-broker/:id/publish     {topic, payload, qos, retain} (hearth.write)
 *   POST /hearth-broker/:id/clear       {topic}: delete its retained message (hearth.write)
 * The sidebar's routes answer a request they cannot serve (no such broker, a bad topic) with
 * {error: {code}}, not a 4xx: the editor would count that as a console error. The metrics route
 * answers 404, as a scraper expects.
 */
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus, validTopicName, type Broker } from '../../../broker'
import type { HttpHandler, HttpResponse, NodeAPI } from '../../shared/red'
import { describeClient } from '../events'
import { nodeLabels } from '../metrics-endpoint'
import { WATCH_SECONDS, type BrokerRow, type ClientRow } from '../monitoring'
import type { BrokerNode } from '../runtime'
import { TopicRecorder } from './topic-recorder'
import { Watcher, type Comms } from './watch'

/** Express's response is Node's: the calls a text answer needs (Express's own `set` would rewrite the Content-Type). */
interface TextResponse extends HttpResponse {
  setHeader (field: string, value: string | number): void
  end (body: string): void
}

/** Stands in while nothing is recorded: never started, it holds nothing (the retained messages are listed alone). */
const NOT_RECORDING = new TopicRecorder()

/** The longest payload the sidebar may publish, in characters. */
const MAX_PUBLISH_CHARS = 1 << 20

/** The running broker node `id` (of this type), or undefined. */
function brokerNode (RED: NodeAPI, type: string, id: string): BrokerNode | undefined {
  const n = RED.nodes.getNode(id) as BrokerNode | null | undefined
  return n !== null && n !== undefined && n.type === type ? n : undefined
}

function clientRow (c: ReturnType<Broker['clients']>[number]): ClientRow {
  return {
    clientId: c.clientId,
    username: c.username ?? '',
    address: String(describeClient(c).address),
    transport: c.transport,
    protocolVersion: c.protocolVersion,
    connectedAt: c.connectedAt,
    subscriptions: c.subscriptions,
    inflight: c.inflight,
    queued: c.queued,
    dropped: c.dropped,
  }
}

const body = (req: { body?: unknown }): Record<string, unknown> => {
  const b = req.body
  return typeof b === 'object' && b !== null ? b as Record<string, unknown> : {}
}

export function registerObservabilityRoutes (RED: NodeAPI, type: string): void {
  const app = RED.httpAdmin
  if (app === undefined || typeof app.get !== 'function' || typeof app.post !== 'function') return
  const allow = (permission: string): HttpHandler => RED.auth?.needsPermission(permission) ?? ((_req, _res, next) => next())
  const comms = (RED as NodeAPI & { comms?: Comms }).comms
  const watchers = new Map<string, Watcher>()

  /** The broker of node `id`, or an {error} answer. */
  const runningBroker = (id: string, res: HttpResponse): { node: BrokerNode, broker: Broker } | undefined => {
    const node = brokerNode(RED, type, id)
    if (node === undefined) { res.json({ error: { code: 'NO_SUCH_NODE' } }); return undefined }
    if (node.broker === undefined) { res.json({ error: { code: 'NOT_RUNNING', failure: node.failure } }); return undefined }
    return { node, broker: node.broker }
  }

  const watcherOf = (node: BrokerNode, broker: Broker): Watcher => {
    const old = watchers.get(node.id)
    if (old !== undefined && old.broker === broker) return old
    old?.stop()
    const w: Watcher = new Watcher(node.id, broker, () => brokerNode(RED, type, node.id)?.broker, comms, () => {
      if (watchers.get(node.id) === w) watchers.delete(node.id)
    })
    watchers.set(node.id, w)
    return w
  }

  app.get(`/${type}/:id/metrics`, allow('hearth.read'), (req, res) => {
    const node = brokerNode(RED, type, req.params.id)
    if (node?.broker === undefined) { res.status(404).json({ error: { code: node === undefined ? 'NO_SUCH_NODE' : 'NOT_RUNNING' } }); return }
    const text = renderPrometheus(node.broker, nodeLabels(node.id, node.name))
    const r = res as TextResponse
    r.setHeader('Content-Type', PROMETHEUS_CONTENT_TYPE)
    r.setHeader('Content-Length', Buffer.byteLength(text))
    r.end(text)
  })

  app.get(`/${type}/brokers`, allow('hearth.read'), (_req, res) => {
    const brokers: BrokerRow[] = []
    RED.nodes.eachNode?.((config) => {
      if (config.type !== type || typeof config.id !== 'string') return
      const node = brokerNode(RED, type, config.id)
      const row: BrokerRow = { id: config.id, name: typeof config.name === 'string' ? config.name : '', running: node?.broker !== undefined }
      if (node?.failure !== undefined && node.broker === undefined) row.failure = node.failure
      brokers.push(row)
    })
    res.json({ brokers })
  })

  app.post(`/${type}/:id/watch`, allow('hearth.read'), (req, res) => {
    const found = runningBroker(req.params.id, res)
    if (found === undefined) return
    watcherOf(found.node, found.broker).touch()
    res.json({ watching: true, seconds: WATCH_SECONDS })
  })

  app.get(`/${type}/:id/clients`, allow('hearth.read'), (req, res) => {
    const found = runningBroker(req.params.id, res)
    if (found === undefined) return
    res.json({ clients: found.broker.clients().map(clientRow) })
  })

  app.get(`/${type}/:id/topics`, allow('hearth.read'), (req, res) => {
    const found = runningBroker(req.params.id, res)
    if (found === undefined) return
    const w = watchers.get(found.node.id)
    const recorder = w !== undefined && w.broker === found.broker ? w.topics : undefined
    const retained = found.broker.retained('#')
    const { rows, truncated } = (recorder ?? NOT_RECORDING).rows(retained)
    res.json({ recording: recorder?.recording === true, since: recorder?.since ?? 0, topics: rows, truncated })
  })

  app.post(`/${type}/:id/disconnect`, allow('hearth.write'), (req, res) => {
    const found = runningBroker(req.params.id, res)
    if (found === undefined) return
    const clientId = body(req).clientId
    if (typeof clientId !== 'string' || clientId === '') { res.json({ error: { code: 'NO_CLIENT_ID' } }); return }
    res.json({ clientId, disconnected: found.broker.disconnectClient(clientId) })
  })

  app.post(`/${type}/:id/publish`, allow('hearth.write'), (req, res) => {
    const found = runningBroker(req.params.id, res)
    if (found === undefined) return
    const b = body(req)
    const topic = b.topic
    const payload = b.payload ?? ''
    const qos = b.qos ?? 0
    // Not under $SYS: the broker's own publish may write there, a user of the sidebar may not.
    if (typeof topic !== 'string' || !validTopicName(topic) || topic.startsWith('$')) { res.json({ error: { code: 'BAD_TOPIC' } }); return }
    if (typeof payload !== 'string' || payload.length > MAX_PUBLISH_CHARS) { res.json({ error: { code: 'BAD_PAYLOAD', max: MAX_PUBLISH_CHARS } }); return }
    if (qos !== 0 && qos !== 1 && qos !== 2) { res.json({ error: { code: 'BAD_QOS' } }); return }
    found.broker.publish({ topic, payload: Buffer.from(payload, 'utf8'), qos, retain: b.retain === true }).then(
      () => res.json({ topic, published: true }),
      (err: Error & { reasonCode?: number }) => res.json({ error: { code: 'REFUSED', reasonCode: err.reasonCode, message: err.message } }),
    )
  })

  app.post(`/${type}/:id/clear`, allow('hearth.write'), (req, res) => {
    const found = runningBroker(req.params.id, res)
    if (found === undefined) return
    const topic = body(req).topic
    if (typeof topic !== 'string' || !validTopicName(topic)) { res.json({ error: { code: 'BAD_TOPIC' } }); return }
    res.json({ topic, cleared: found.broker.clearRetained(topic) })
  })
}
