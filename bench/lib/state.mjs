// A lean MQTT client (mqtt-packet over a socket) and the large state the restart measurements write through it:
// retained topics and offline persistent sessions with subscriptions and queued QoS 1 messages.
// Used by bench/persistence.mjs and the restart scenario (bench/lib/restart.mjs).
import net from 'node:net'
import mqtt from 'mqtt-packet'

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

export class Client {
  constructor (socket, version) {
    this.socket = socket
    this.version = version
    this.nextId = 1
    this.handlers = new Set()
    const parser = mqtt.parser({ protocolVersion: version })
    parser.on('packet', p => { for (const h of this.handlers) h(p) })
    socket.on('data', chunk => parser.parse(chunk))
    this.closed = new Promise(resolve => socket.once('close', resolve))
    socket.on('error', () => {})
  }

  /** `onMessage` is attached before CONNECT: a session's queued messages may arrive with the CONNACK. */
  static async connect (port, { clientId, clean = true, version = 4, sessionExpiry, onMessage }) {
    const socket = net.connect({ port, host: '127.0.0.1' })
    socket.setNoDelay(true)
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    const c = new Client(socket, version)
    if (onMessage) c.ackAll(onMessage)
    const ack = c.next(p => p.cmd === 'connack')
    c.send({
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean, keepalive: 0,
      properties: version === 5 && sessionExpiry !== undefined ? { sessionExpiryInterval: sessionExpiry } : undefined
    })
    const connack = await Promise.race([ack, c.closed.then(() => { throw new Error(`connection closed before CONNACK (${clientId})`) })])
    if ((connack.returnCode ?? connack.reasonCode ?? 0) !== 0) {
      c.socket.destroy()
      throw new Error(`CONNACK refused for ${clientId}: ${connack.returnCode ?? connack.reasonCode}`)
    }
    return c
  }

  on (handler) { this.handlers.add(handler); return () => this.handlers.delete(handler) }

  next (match) {
    return new Promise(resolve => {
      const off = this.on(p => { if (match(p)) { off(); resolve(p) } })
    })
  }

  id () {
    const id = this.nextId
    this.nextId = id >= 65535 ? 1 : id + 1
    return id
  }

  send (packet) { this.socket.write(mqtt.generate(packet, { protocolVersion: this.version })) }

  async subscribe (topics, qos = 1) {
    const messageId = this.id()
    const ack = this.next(p => p.cmd === 'suback' && p.messageId === messageId)
    this.send({ cmd: 'subscribe', messageId, subscriptions: topics.map(topic => ({ topic, qos })) })
    const suback = await ack
    const refused = (suback.granted || []).filter(g => g >= 0x80)
    if (refused.length) throw new Error(`SUBACK refused ${refused.length} of ${topics.length} subscriptions`)
    return suback
  }

  /** Acknowledge every QoS 1 PUBLISH; `onMessage` sees each. */
  ackAll (onMessage) {
    this.on(p => {
      if (p.cmd !== 'publish') return
      if (p.qos === 1) this.send({ cmd: 'puback', messageId: p.messageId })
      onMessage(p)
    })
  }

  async end () {
    this.send({ cmd: 'disconnect' })
    this.socket.end()
    await Promise.race([this.closed, sleep(2000)])
    this.socket.destroy()
  }
}

/** Publish `count` QoS 1 messages keeping `window` in flight; resolves when all are acknowledged. */
export function publishWindowed (c, count, window, topicOf, payload, retain = false) {
  return new Promise((resolve, reject) => {
    let sent = 0
    let acked = 0
    const inflight = new Set()
    const sendOne = () => {
      const messageId = c.id()
      inflight.add(messageId)
      c.send({ cmd: 'publish', topic: topicOf(sent++), payload, qos: 1, retain, dup: false, messageId })
    }
    c.closed.then(() => reject(new Error(`the broker closed the publisher after ${acked} of ${count} acknowledgements`)))
    const off = c.on(p => {
      if (p.cmd !== 'puback' || !inflight.delete(p.messageId)) return
      // MQTT 3.1.1 has no reason code in PUBACK: a refused retained message is acknowledged all the same,
      // so populate() checks the stored state afterwards.
      acked++
      if (sent < count) sendOne()
      else if (acked === count) { off(); resolve() }
    })
    for (let i = 0; i < Math.min(window, count); i++) sendOne()
  })
}

// The large state: `retained` retained topics (`payload`-byte payloads) and `sessions` offline persistent sessions
// (clean session off), each with `subs` subscriptions and `queued` queued QoS 1 messages.
export const STATE = { subs: 5, queued: 10, window: 1000, concurrency: 50 }
const retainedTopic = n => `site/${n % 100}/device/${n}/temperature`
const sessionId = i => `session-${i}`

// What a broker must allow to hold it (bench/lib/limits.mjs needsOf, kind 'populate').
export function stateJob ({ retained, sessions, payloadBytes }) {
  const topicLen = retainedTopic(retained - 1).length
  return {
    kind: 'populate',
    retained,
    retainedBytes: retained * (topicLen + payloadBytes),
    sessions,
    queued: STATE.queued,
    window: STATE.window,
    concurrency: STATE.concurrency,
    packetBytes: topicLen + payloadBytes + 16,
    payloadSize: payloadBytes
  }
}

export async function populate (port, { retained, sessions, payload }) {
  const pub = await Client.connect(port, { clientId: 'pop-pub', clean: true })
  await publishWindowed(pub, retained, STATE.window, retainedTopic, payload, true)
  for (let s = 0; s < sessions; s += STATE.concurrency) {
    await Promise.all(Array.from({ length: Math.min(STATE.concurrency, sessions - s) }, async (_, k) => {
      const i = s + k
      const c = await Client.connect(port, { clientId: sessionId(i), clean: false })
      await c.subscribe(Array.from({ length: STATE.subs }, (_, j) => `cmd/${i}/${j}`), 1)
      await c.end()
    }))
  }
  // `queued` messages for every offline session (through the subscription cmd/<i>/0).
  await publishWindowed(pub, sessions * STATE.queued, STATE.window, n => `cmd/${n % sessions}/0`, payload)
  await pub.end()
}

// After a restart: session `i` gets its queued messages back, and the last retained topic is still there.
export async function verifyState (port, { retained, i }) {
  const got = []
  const c = await Client.connect(port, { clientId: sessionId(i), clean: false, onMessage: p => got.push(p.topic) })
  const deadline = Date.now() + 10000
  while (got.length < STATE.queued && Date.now() < deadline) await sleep(20)
  await c.end()
  if (got.length < STATE.queued) throw new Error(`${sessionId(i)} got ${got.length} of ${STATE.queued} queued messages`)
  const probe = await Client.connect(port, { clientId: `verify-${i}`, clean: true })
  let found = 0
  probe.on(p => { if (p.cmd === 'publish' && p.retain) found++ })
  await probe.subscribe([retainedTopic(retained - 1), retainedTopic(0)], 0)
  for (let t = 0; t < 5000 && found < 2; t += 20) await sleep(20)
  await probe.end()
  if (found < 2) throw new Error(`${found} of the 2 retained messages checked came back`)
}
