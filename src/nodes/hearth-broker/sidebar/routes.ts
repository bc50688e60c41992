/**
 * The broker node's observability routes on Node-RED's admin API (behind its adminAuth):
 *   GET /hearth-broker/:id/metrics    the node's figures in the Prometheus text format (hearth.read)
 */
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus, type Broker } from '../../../broker'
import type { HttpHandler, HttpResponse, NodeAPI } from '../../shared/red'
import { nodeLabels } from '../metrics-endpoint'
import type { BrokerNode } from '../runtime'

/** Express's response is Node's: the calls a text answer needs (Express's own `set` would rewrite the Content-Type). */
interface TextResponse extends HttpResponse {
  setHeader (field: string, value: string | number): void
  end (body: string): void
}

/** The running broker node `id` (of this type), or undefined. */
function brokerNode (RED: NodeAPI, type: string, id: string): BrokerNode | undefined {
  const n = RED.nodes.getNode(id) as BrokerNode | null | undefined
  return n !== null && n !== undefined && n.type === type ? n : undefined
}

/** Answer 404 {error: {code}} unless node `id` runs a broker; else hand it on. */
function running (RED: NodeAPI, type: string, id: string, res: HttpResponse): { node: BrokerNode, broker: Broker } | undefined {
  const node = brokerNode(RED, type, id)
  if (node === undefined) { res.status(404).json({ error: { code: 'NO_SUCH_NODE' } }); return undefined }
  if (node.broker === undefined) { res.status(404).json({ error: { code: 'NOT_RUNNING' } }); return undefined }
  return { node, broker: node.broker }
}

export function registerObservabilityRoutes (RED: NodeAPI, type: string): void {
  const app = RED.httpAdmin
  if (app === undefined || typeof app.get !== 'function' || typeof app.post !== 'function') return
  const allow = (permission: string): HttpHandler => RED.auth?.needsPermission(permission) ?? ((_req, _res, next) => next())

  app.get(`/${type}/:id/metrics`, allow('hearth.read'), (req, res) => {
    const found = running(RED, type, req.params.id, res)
    if (found === undefined) return
    const body = renderPrometheus(found.broker, nodeLabels(found.node.id, found.node.name))
    const text = res as TextResponse
    text.setHeader('Content-Type', PROMETHEUS_CONTENT_TYPE)
    text.setHeader('Content-Length', Buffer.byteLength(body))
    text.end(body)
  })
}
