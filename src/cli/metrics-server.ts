/*
 * The CLI's Prometheus endpoint: GET /metrics on a port of its own (the `metrics` key), 404
 * elsewhere. While it is open the broker measures its event loop's delay.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { renderPrometheus, PROMETHEUS_CONTENT_TYPE, type Broker } from '../broker'

export interface MetricsServer {
  /** http://host:port/metrics, with the port actually bound. */
  url: string
  close (): Promise<void>
}

function urlHost (host: string): string {
  return host.includes(':') ? `[${host}]` : host
}

/** Listen on host:port; rejects (e.g. EADDRINUSE) without leaving anything open. */
export async function startMetricsServer (broker: Broker, host: string, port: number): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found: the metrics are at /metrics\n')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' }).end('Method not allowed\n')
      return
    }
    let body: string
    try {
      body = renderPrometheus(broker)
    } catch (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${(err as Error).message}\n`)
      return
    }
    res.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  // Bounded like everything else a peer can make the process hold: a scraper needs one connection.
  server.maxConnections = 16
  server.keepAliveTimeout = 5000
  server.headersTimeout = 10_000
  server.requestTimeout = 10_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const release = broker.watchEventLoop()
  const bound = (server.address() as AddressInfo).port
  return {
    url: `http://${urlHost(host)}:${bound}/metrics`,
    close: () => new Promise<void>(resolve => {
      release()
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}
