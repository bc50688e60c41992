import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { MqttClient } from 'mqtt'
import { HOST, Mosquitto } from '../helpers/mosquitto'
import { externalFlow, publish } from './flows/client.flows'
import { completeNode, connectClient, hearthNodes, helper, lastStatus, sink, sinkNode, unspy, waitFor } from './support'

describe('bench', function () {
  this.timeout(120000)
  it('300k through publish', async function () {
    const mosq = await Mosquitto.start()
    let received = 0
    const c: MqttClient = await connectClient(mosq.ports.tcp, {}, () => { received++ })
    await c.subscribeAsync('b', { qos: 0 })
    await helper.load([...hearthNodes, completeNode, sinkNode], externalFlow(`mqtt://${HOST}:${mosq.ports.tcp}`, [publish({ topic: 'b', qos: '0' }), { id: 'complete', type: 'complete', z: 'f1', x: 1, y: 1, scope: ['pub'], uncaught: false, wires: [['sink']] }, { id: 'sink', type: 'sink', z: 'f1', x: 1, y: 1, wires: [] }]))
    await waitFor(() => lastStatus('pub')?.text === 'node-red:common.status.connected', 5000)
    unspy(['pub', 'complete'])
    sink.length = 0
    const h = monitorEventLoopDelay({ resolution: 10 }); h.enable()
    const pub = helper.getNode('pub')
    const t0 = Date.now()
    for (let i = 0; i < 300000; i++) pub.receive({ payload: i })
    const t1 = Date.now(); const heapAtLoop = Math.round(process.memoryUsage().heapUsed/1048576); console.log('heap after loop', heapAtLoop)
    await waitFor(() => received === 300000 && sink.length === 300000, 100000)
    h.disable()
    console.log(`heap ${Math.round(process.memoryUsage().heapUsed/1048576)} MiB rss ${Math.round(process.memoryUsage().rss/1048576)}; receive loop ${t1 - t0} ms, all arrived ${Date.now() - t0} ms, max loop delay ${Math.round(h.max / 1e6)} ms`, helper.getNode('conn').stats())
    await helper.unload(); await c.endAsync(); await mosq.remove()
  })
})
