// The point of encoding control packets by hand (src/broker/encode-control.ts): a broker whose clients publish without
// MQTT 5 properties never calls mqtt-packet's generate(), whose first call builds a cache of 65,536 Buffers (6.6 MB of
// heap). Checked in a fresh Node process (this one has long built it): the built broker serves an MQTT 3.1.1 and an
// MQTT 5 session over raw sockets (CONNECT, SUBSCRIBE, PUBLISH at QoS 0, 1 and 2 with the acks, PINGREQ, UNSUBSCRIBE,
// a QoS 1 PUBLISH nobody subscribed to) and reports how many bytes came back and the cache's size.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

const ROOT = join(__dirname, '..', '..')
const DIST = join(ROOT, 'dist', 'broker', 'index.js')

const CHILD = `
const net = require('node:net')
const { createBroker } = require(${JSON.stringify(DIST)})
const numbers = require(require.resolve('mqtt-packet/numbers.js', { paths: [${JSON.stringify(join(ROOT, 'dist', 'broker'))}] }))
const str = s => [s.length >> 8, s.length & 255, ...Buffer.from(s)]
const pkt = (first, body) => Buffer.from([first, body.length, ...body])
function session (port, v) {
  const p = v === 5 ? [0] : [] // empty property length on MQTT 5
  const bytes = Buffer.concat([
    pkt(0x10, [...str('MQTT'), v, 0x02, 0, 60, ...p, ...str('c' + v)]),
    pkt(0x82, [0, 1, ...p, ...str('t/' + v), 2]),
    pkt(0x30, [...str('t/' + v), ...p, 0x61]),
    pkt(0x32, [...str('t/' + v), 0, 2, ...p, 0x62]),
    pkt(0x34, [...str('t/' + v), 0, 3, ...p, 0x63]),
    pkt(0x62, [0, 3]),
    pkt(0x32, [...str('nobody/' + v), 0, 4, ...p, 0x64]),
    pkt(0xc0, []),
    pkt(0xa2, [0, 5, ...p, ...str('t/' + v)]),
  ])
  return new Promise(resolve => {
    let got = Buffer.alloc(0)
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes))
    s.on('data', d => { got = Buffer.concat([got, d]) })
    setTimeout(() => { s.destroy(); resolve(got.length) }, 400)
  })
}
;(async () => {
  const b = createBroker({})
  const { port } = await b.listen({ port: 0, host: '127.0.0.1' })
  const got = [await session(port, 4), await session(port, 5)]
  process.stdout.write(JSON.stringify({ got, cache: Object.keys(numbers.cache).length }))
  await b.close()
})()
`

describe('unit: no mqtt-packet number cache for plain traffic', function () {
  this.timeout(30000)

  it('an MQTT 3.1.1 and an MQTT 5 session, every packet type a device sends: the broker answers all, and never builds the cache', function () {
    if (!existsSync(DIST)) this.skip() // npm test builds first
    const r = spawnSync(process.execPath, ['-e', CHILD], { encoding: 'utf8', timeout: 20000 })
    assert.equal(r.status, 0, r.stderr)
    const { got, cache } = JSON.parse(r.stdout) as { got: number[], cache: number }
    // 3.1.1: CONNACK 4, SUBACK 5, its own PUBLISHes back at QoS 0, 1, 2 (8 + 10 + 10), PUBACK 4, PUBREC 4, PUBCOMP 4,
    // PUBACK 4 (nobody subscribed), PINGRESP 2, UNSUBACK 4. MQTT 5: the same with property lengths, CONNACK properties
    // and reason codes, so more.
    assert.equal(got[0], 59, 'MQTT 3.1.1 replies')
    assert.ok(got[1] > 59, 'MQTT 5 replies: ' + String(got[1]) + ' bytes')
    assert.equal(cache, 0)
  })
})
