// bench-aedes: Aedes inside Node-RED the way node-red-contrib-aedes runs it (that package is not a dependency
// here): Aedes.createBroker() with default in-memory persistence, net.createServer(broker.handle), and the same
// broker event listeners, each turning an event into a message on output 1. Only for bench/node-red.mjs.
'use strict'
const net = require('node:net')

module.exports = function (RED) {
  // loaded when Node-RED loads the node types, as node-red-contrib-aedes requires aedes at load
  const aedes = import('aedes')
  aedes.catch(err => RED.log.error(`bench-aedes: ${err.message}`))
  function BenchAedesNode (config) {
    RED.nodes.createNode(this, config)
    const node = this
    const port = Number(config.mqtt_port)
    let broker = null
    let server = null
    const started = aedes.then(async ({ Aedes }) => {
      broker = await Aedes.createBroker()
      server = net.createServer(broker.handle)
      server.once('error', err => node.error(`aedes port ${port}: ${err.message}`))
      server.listen(port, '127.0.0.1', () => node.status({ fill: 'green', shape: 'dot', text: 'listening' }))
      const relay = topic => (...args) => node.send([{ topic, payload: { client: args[args.length - 1] } }, null])
      broker.on('client', relay('client'))
      broker.on('clientReady', relay('clientReady'))
      broker.on('clientDisconnect', relay('clientDisconnect'))
      broker.on('clientError', relay('clientError'))
      broker.on('connectionError', relay('connectionError'))
      broker.on('keepaliveTimeout', relay('keepaliveTimeout'))
      broker.on('subscribe', relay('subscribe'))
      broker.on('unsubscribe', relay('unsubscribe'))
    }).catch(err => node.error(`aedes: ${err.message}`))
    node.on('close', done => {
      started.then(() => {
        if (!broker) return done()
        broker.close(() => server.close(() => done()))
      })
    })
  }
  RED.nodes.registerType('bench-aedes', BenchAedesNode)
}
