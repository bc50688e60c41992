// Aedes as node-red-contrib-aedes runs it: one broker with default (in-memory) persistence,
// served by net.createServer(broker.handle). Prints the same ready line as the Hearth CLI.
// --tls CERT KEY: tls.createServer(broker.handle) instead; --ws: MQTT over WebSocket on /mqtt, each
// connection a ws createWebSocketStream handed to broker.handle (the usual wrapping).
import net from 'node:net'
import tls from 'node:tls'
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { Aedes } from 'aedes'
import { WebSocketServer, createWebSocketStream } from 'ws'

const args = process.argv.slice(2)
const opt = name => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined }
const port = Number(opt('--port') ?? 0)
const host = opt('--host') ?? '127.0.0.1'

const broker = await Aedes.createBroker()
const tlsAt = args.indexOf('--tls')
let server
let url
if (tlsAt >= 0) {
  server = tls.createServer({ cert: readFileSync(args[tlsAt + 1]), key: readFileSync(args[tlsAt + 2]) }, broker.handle)
  url = port => `mqtts://${host}:${port}`
} else if (args.includes('--ws')) {
  server = http.createServer()
  const wss = new WebSocketServer({ server, path: '/mqtt' })
  wss.on('connection', ws => broker.handle(createWebSocketStream(ws)))
  url = port => `ws://${host}:${port}/mqtt`
} else {
  server = net.createServer(broker.handle)
  url = port => `mqtt://${host}:${port}`
}
server.listen(port, host, () => {
  console.log(`aedes listening on ${url(server.address().port)}`)
})
const stop = () => broker.close(() => server.close(() => process.exit(0)))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
