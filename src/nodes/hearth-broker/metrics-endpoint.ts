/**
 * The broker node's Prometheus endpoint: `GET /metrics` on a port of its own (off by default,
 * bound to 127.0.0.1 unless told otherwise), served by the CLI's metrics server with the node's
 * id and name as constant labels. Failing to bind is reported, never fatal: the broker runs on.
 */
import type { Broker } from '../../broker'
import { startMetricsServer, type MetricsServer } from '../../cli/metrics-server'
import { parseIntIn, readFlag } from '../shared/values'
import { METRICS_DEFAULTS } from './monitoring'
import { PORT_RANGE, validHost } from './types'

interface MetricsPlan { port: number, host: string }

/** What went wrong: a catalog key under `hearth-broker.monitoring.` and its substitutions. */
interface MetricsProblem { key: string, subs: Record<string, string | number> }

/** The endpoint the node's config asks for; undefined when it is off. */
function metricsPlan (config: Record<string, unknown>): MetricsPlan | MetricsProblem | undefined {
  if (!readFlag(config.metrics, METRICS_DEFAULTS.metrics)) return undefined
  const rawPort = config.metricsPort === undefined || config.metricsPort === '' ? METRICS_DEFAULTS.metricsPort : config.metricsPort
  const port = parseIntIn(rawPort, PORT_RANGE.min, PORT_RANGE.max)
  if (port === undefined) return { key: 'bad-port', subs: { port: String(rawPort) } }
  const typed = typeof config.metricsHost === 'string' ? config.metricsHost.trim() : ''
  if (!validHost(typed)) return { key: 'bad-host', subs: { host: typed } }
  return { port, host: typed === '' ? METRICS_DEFAULTS.metricsHost : typed }
}

/** Prometheus labels that tell broker nodes apart: one series set per node, never per client. */
export function nodeLabels (id: string, name: unknown): Record<string, string> {
  return typeof name === 'string' && name !== '' ? { node_id: id, node_name: name } : { node_id: id }
}

export type MetricsOutcome = { server: MetricsServer } | { problem: MetricsProblem } | undefined

/** Open the endpoint the config asks for. Resolves with the server, the problem, or undefined when off. */
export async function openMetricsEndpoint (broker: Broker, config: Record<string, unknown>, labels: Record<string, string>): Promise<MetricsOutcome> {
  const plan = metricsPlan(config)
  if (plan === undefined) return undefined
  if ('key' in plan) return { problem: plan }
  try {
    return { server: await startMetricsServer(broker, plan.host, plan.port, labels) }
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const subs = { port: plan.port, host: plan.host, message: e.message }
    if (e.code === 'EADDRINUSE') return { problem: { key: 'port-in-use', subs } }
    if (e.code === 'EACCES') return { problem: { key: 'port-denied', subs } }
    return { problem: { key: 'listen-failed', subs } }
  }
}
