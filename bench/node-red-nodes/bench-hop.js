// bench-hop: a node that passes each message on, written as the simplest core node is (input(msg, send, done):
// send, then done). generator -> bench-hop -> counter costs Node-RED one more receive, send and done per message
// than generator -> counter: exactly the hops hearth-publish (receive, done) and hearth-subscribe (send) add, without
// any MQTT. Only for bench/node-red.mjs.
'use strict'

module.exports = function (RED) {
  function BenchHopNode (config) {
    RED.nodes.createNode(this, config)
    this.on('input', (msg, send, done) => {
      send(msg)
      done()
    })
  }
  RED.nodes.registerType('bench-hop', BenchHopNode)
}
