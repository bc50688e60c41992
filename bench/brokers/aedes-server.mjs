// Aedes as node-red-contrib-aedes runs it: one broker with default (in-memory) persistence,
// served by net.createServer(broker.handle). Prints the same ready line as the Hearth CLI.
import net from 'node:net'
import { Aedes } from 'aedes'

const args = process.argv.slice(2)
const opt = name => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined }
const port = Number(opt('--port') ?? 0)
const host = opt('--host') ?? '127.0.0.1'

const broker = await Aedes.createBroker()
const server = net.createServer(broker.handle)
server.listen(port, host, () => {
  console.log(`aedes listening on mqtt://${host}:${server.address().port}`)
})
const stop = () => broker.close(() => server.close(() => process.exit(0)))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
