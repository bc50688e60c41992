// Issue 8's findings 1-3, measured against the CLI the same way before and after the limits:
//   1. two sockets that never send a whole CONNECT announce a 200 MB packet and stream its body for 2 s: broker RSS
//   2. one retained message on a topic of 20,000 levels, then a '#' subscriber: what the subscriber gets
//   3. 10,000 retained messages of 10 KB from one anonymous client: broker RSS growth, and how many are kept (counted
//      by a QoS 0 '#' subscriber afterwards: a broker without streamed retained replay delivers only the first ~1 MiB)
// Usage: node bench/hardening.mjs [--bin path/to/hearth-broker.js]   (default: this checkout's bin/hearth-broker.js)
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt-packet'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const binArg = process.argv.indexOf('--bin')
const bin = binArg > 0 ? process.argv[binArg + 1] : join(root, 'bin', 'hearth-broker.js')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function rssMiB (pid) {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
  return kb / 1024
}

async function startBroker () {
  const child = spawn(process.execPath, [bin, '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', () => {})
  for (let i = 0; i < 200 && !/listening on mqtt:\/\/[^:]+:(\d+)/.test(out); i++) await sleep(25)
  const port = Number(/listening on mqtt:\/\/[^:]+:(\d+)/.exec(out)[1])
  await sleep(300)
  return { child, port, stop: () => new Promise((resolve) => { child.once('exit', resolve); child.kill('SIGKILL') }) }
}

function socket (port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s))
    s.on('error', () => {})
    s.once('error', reject)
  })
}

/** A client that parses what it gets back. */
async function client (port, packet) {
  const s = await socket(port)
  const parser = mqtt.parser({ protocolVersion: 5 })
  const got = []
  parser.on('packet', (p) => got.push(p))
  parser.on('error', () => {})
  s.on('data', (d) => parser.parse(d))
  let closed = false
  s.on('close', () => { closed = true })
  const send = (p) => { if (!s.destroyed) s.write(mqtt.generate(p, { protocolVersion: 5 })) }
  send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: packet, clean: true, keepalive: 0 })
  await sleep(100)
  return { s, got, send, closed: () => closed }
}

async function finding1 () {
  const b = await startBroker()
  const before = rssMiB(b.child.pid)
  const chunk = Buffer.alloc(1 << 20, 0x41)
  const sockets = []
  for (let i = 0; i < 2; i++) {
    const s = await socket(b.port)
    s.write(Buffer.from([0x10, 0x80, 0xd4, 0xaf, 0x5f])) // CONNECT announcing 200,000,000 bytes
    sockets.push(s)
  }
  const end = Date.now() + 2000
  while (Date.now() < end) {
    for (const s of sockets) if (!s.destroyed && s.writableLength < (8 << 20)) s.write(chunk)
    await sleep(5)
  }
  const after = rssMiB(b.child.pid)
  const open = sockets.filter((s) => !s.destroyed).length
  for (const s of sockets) s.destroy()
  await b.stop()
  return `RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MiB (sockets still open after 2 s: ${open} of 2)`
}

async function finding2 () {
  const b = await startBroker()
  const topic = Array.from({ length: 20000 }, (_, i) => `l${i % 10}`).join('/')
  const pub = await client(b.port, 'deep-pub')
  pub.send({ cmd: 'publish', topic, payload: Buffer.from('deep'), qos: 1, messageId: 1, retain: true, dup: false })
  await sleep(300)
  const pubAck = pub.got.find((p) => p.cmd === 'puback' || p.cmd === 'disconnect')
  const sub = await client(b.port, 'deep-sub')
  sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 0 }] })
  await sleep(500)
  const answer = sub.got.filter((p) => p.cmd !== 'connack').map((p) => p.cmd === 'disconnect' ? `DISCONNECT 0x${p.reasonCode.toString(16)}` : p.cmd.toUpperCase())
  pub.s.destroy()
  sub.s.destroy()
  await b.stop()
  const pa = pubAck === undefined ? (pub.closed() ? 'connection closed' : 'nothing') : pubAck.cmd === 'disconnect' ? `DISCONNECT 0x${pubAck.reasonCode.toString(16)}` : `PUBACK 0x${(pubAck.reasonCode ?? 0).toString(16)}`
  return `publisher got ${pa}; a '#' subscriber got ${answer.join(', ') || 'nothing'}`
}

async function finding3 () {
  const b = await startBroker()
  const before = rssMiB(b.child.pid)
  const pub = await client(b.port, 'ret-pub')
  const payload = Buffer.alloc(10 * 1024, 0x42)

  for (let i = 0; i < 10000; i++) {
    pub.send({ cmd: 'publish', topic: `big/${i}`, payload, qos: 1, messageId: (i % 65000) + 1, retain: true, dup: false })
    if (i % 20 === 19) await sleep(1)
  }
  await sleep(3000)
  const refused = pub.got.filter((p) => p.cmd === 'puback' && (p.reasonCode ?? 0) >= 0x80).length
  const after = rssMiB(b.child.pid)
  const counter = await client(b.port, 'ret-count')
  counter.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'big/#', qos: 0 }] })
  await sleep(3000)
  const held = counter.got.filter((p) => p.cmd === 'publish').length
  pub.s.destroy()
  counter.s.destroy()
  await b.stop()
  return `RSS +${(after - before).toFixed(0)} MiB (${before.toFixed(0)} -> ${after.toFixed(0)}); retained kept: ${held}; refused with 0x97: ${refused}`
}

console.log(`bin: ${bin}`)
console.log(`1. two sockets streaming a 200 MB CONNECT body for 2 s: ${await finding1()}`)
console.log(`2. a retained message 20,000 levels deep: ${await finding2()}`)
console.log(`3. 10,000 retained x 10 KB from one client: ${await finding3()}`)
