// Generator role threads (worker_threads). One thread per role: 'pub', 'sub', 'conns'.
// The coordinator (gen.mjs) drives them with messages: ready -> go -> stop -> close.
import { parentPort, workerData } from 'node:worker_threads'
import { readlinkSync } from 'node:fs'
import { Client } from './client.mjs'
import { PublishRing, publishPacket, publishId, T, ACK, connectPacket } from '../lib/wire.mjs'
import * as K from './control.mjs'

const cfg = workerData
const ctl = new Int32Array(cfg.ctl)
const post = m => parentPort.postMessage(m)
const now = () => process.hrtime.bigint()
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
// A broker closing a generator connection mid-run invalidates the run (idle connections: counted instead).
if (cfg.role !== 'conns') Client.onUnexpectedClose = c => post({ type: 'error', message: `the broker closed connection ${c.clientId}` })

async function connectMany (n, make, concurrency = 100) {
  const out = new Array(n)
  let next = 0
  async function lane () {
    while (next < n) {
      const i = next++
      out[i] = await make(i).connected
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, lane))
  return out
}

function payloadOf (size) {
  const p = Buffer.alloc(size)
  for (let i = 0; i < size; i++) p[i] = 97 + (i % 26)
  return p
}

// ---------------------------------------------------------------- subscribers
async function sub () {
  const { host, port, clientIds, filter, qos, mode, coalesce = null } = cfg
  let counted = 0 // non-QoS0 deliveries counted by onPacket since the last read
  let latency = null
  // latency: each sample (ns) and its send time (hrtime ns, the clock the broker's GC probe reports on)
  if (mode === 'latency') latency = { samples: new Float64Array(cfg.maxSamples), sends: new Float64Array(cfg.maxSamples), n: 0, warmupSeq: cfg.warmupSeq }

  function onPacket (c, b0, buf, s, _e) {
    const type = b0 >> 4
    if (type === T.PUBLISH) {
      const q = (b0 >> 1) & 3
      if (latency !== null) {
        const tlen = (buf[s] << 8) | buf[s + 1]
        const p = s + 2 + tlen + (q > 0 ? 2 : 0)
        const seq = buf.readUInt32BE(p)
        const sent = buf.readBigUInt64BE(p + 4)
        if (seq >= latency.warmupSeq && latency.n < latency.samples.length) {
          latency.samples[latency.n] = Number(now() - sent)
          latency.sends[latency.n++] = Number(sent)
        }
      }
      if (q === 1) c.acks.push(ACK.PUBACK, publishId(buf, s))
      else if (q === 2) c.acks.push(ACK.PUBREC, publishId(buf, s))
      counted++
    } else if (type === T.PUBREL) {
      c.acks.push(ACK.PUBCOMP, (buf[s] << 8) | buf[s + 1])
    }
  }
  let retained = null
  let reads = 0
  function afterRead (c, qos0) {
    reads++
    const n = qos0 + counted
    counted = 0
    if (n === 0) return
    K.addRecv(ctl, n)
    if (retained !== null) {
      retained.got += n
      if (retained.got >= retained.expected && retained.t1 === 0n) {
        retained.t1 = now()
        post({ type: 'retained-done', ms: Number(retained.t1 - retained.t0) / 1e6, got: retained.got })
      }
    }
  }
  const wantBody = mode === 'latency'
  const clients = await connectMany(clientIds.length, i =>
    new Client({ host, port, clientId: clientIds[i], onPacket, afterRead, wantQos0Body: wantBody, coalesce }))
  if (mode !== 'retained') {
    await connectMany(clients.length, i => ({ connected: clients[i].subscribe([filter], qos) }))
  }
  post({ type: 'ready' })
  parentPort.on('message', async m => {
    if (m.type === 'go' && mode === 'retained') {
      retained = { expected: cfg.expected, got: 0, t0: now(), t1: 0n }
      clients[0].subscribe([filter], qos).catch(err => post({ type: 'error', message: err.message }))
    } else if (m.type === 'close') {
      let result = { type: 'closed', reads }
      if (latency !== null) {
        result.latency = latency.samples.slice(0, latency.n)
        result.sends = latency.sends.slice(0, latency.n)
      }
      for (const c of clients) c.close()
      result.unexpectedCloses = Client.unexpectedCloses
      post(result)
    }
  })
}

// ---------------------------------------------------------------- publishers
async function pub () {
  const { host, port, conns, qos, mode } = cfg
  const payload = payloadOf(cfg.payloadSize)
  const fanout = cfg.fanout || 1

  function onPacket (c, b0, buf, s) {
    const type = b0 >> 4
    if (type === T.PUBACK || type === T.PUBCOMP) c.state.acked++
    else if (type === T.PUBREC) c.acks.push(ACK.PUBREL, (buf[s] << 8) | buf[s + 1])
  }
  // after a read: PUBRELs go out first (Client flushes them), then, if acks freed slots, more publishes at once
  function afterRead (c) {
    const st = c.state
    if (st !== undefined && st.ackBlocked && st.sent - st.acked < st.maxUnacked) {
      st.ackBlocked = false
      queueMicrotask(st.pumpFn)
    }
  }
  const clients = await connectMany(conns.length, i => new Client({ host, port, clientId: conns[i].clientId, onPacket, afterRead }))

  if (mode === 'retained') return pubRetained(clients[0], payload)
  if (mode === 'rate') return pubRate(clients[0], conns[0].topic)

  // blast: write pre-encoded batches as fast as the window, the acks and the socket allow
  const W = cfg.window
  const windowBlocked = []
  let waiting = false
  function wake () {
    waiting = false
    const list = windowBlocked.splice(0)
    for (const st of list) pump(st)
  }
  let lastRecv = -1
  let quietSince = 0
  function blockOnWindow (st) {
    windowBlocked.push(st)
    if (waiting) return
    waiting = true
    const seq = Atomics.load(ctl, K.SEQ)
    const sent = Atomics.load(ctl, K.SENT)
    Atomics.store(ctl, K.WAKE_AT, sent - (W >> 1) - Atomics.load(ctl, K.LOST))
    Atomics.store(ctl, K.WAITING, 1)
    const r = Atomics.waitAsync(ctl, K.SEQ, seq, 25)
    if (r.async) r.value.then(onWaitEnd)
    else setImmediate(onWaitEnd)
  }
  function onWaitEnd () {
    // If nothing arrived for a while the broker dropped what is still outstanding: write it off, count it.
    const recv = Atomics.load(ctl, K.RECV)
    const t = Date.now()
    if (recv !== lastRecv) { lastRecv = recv; quietSince = t }
    else if (t - quietSince > 500) {
      const out = Atomics.load(ctl, K.SENT) - recv - Atomics.load(ctl, K.LOST)
      if (out > 0) Atomics.add(ctl, K.LOST, out)
      quietSince = t
    }
    wake()
  }
  function pump (st) {
    const sock = st.client.socket
    for (let k = 0; k < 16; k++) {
      if (Atomics.load(ctl, K.STOP) === 1) return
      const inflight = Atomics.load(ctl, K.SENT) - Atomics.load(ctl, K.RECV) - Atomics.load(ctl, K.LOST)
      if (inflight + st.batch * fanout > W) return blockOnWindow(st)
      let n = st.batch
      if (qos > 0) {
        // as many as the free slots allow, down to one: a stop-and-wait client meets Nagle on the broker side
        const free = st.maxUnacked - (st.sent - st.acked)
        if (free <= 0) { st.ackBlocked = true; return }
        if (free < n) n = free
      }
      const chunk = st.ring.take(n)
      const m = chunk.length / st.ring.pktLen
      st.sent += m
      Atomics.add(ctl, K.SENT, m * fanout)
      Atomics.add(ctl, K.PUB, m)
      if (!sock.write(chunk)) { sock.once('drain', st.pumpFn); return }
    }
    setImmediate(st.pumpFn)
  }
  const states = clients.map((client, i) => {
    const ring = new PublishRing(conns[i].topic, payload, qos, cfg.batch)
    // unacknowledged QoS 1/2 publishes per connection: cfg.maxUnacked (QoS 2: Mosquitto discards inbound QoS 2
    // messages beyond its max_inflight_messages = 20 awaiting PUBREL; Aedes disconnects beyond 1000)
    const st = { client, ring, batch: Math.min(cfg.batch, cfg.maxUnacked || 60000), sent: 0, acked: 0, ackBlocked: false, maxUnacked: cfg.maxUnacked || 60000, pumpFn: null }
    st.pumpFn = () => pump(st)
    client.state = st
    return st
  })
  post({ type: 'ready' })
  parentPort.on('message', m => {
    if (m.type === 'go') for (const st of states) pump(st)
    // STOP is already set: no pump writes again, whatever it is waiting for
    else if (m.type === 'stop') post({ type: 'stopped', sentMsgs: states.reduce((a, x) => a + x.sent, 0) })
    else if (m.type === 'close') {
      for (const c of clients) c.close()
      post({ type: 'closed', acked: states.reduce((a, x) => a + x.acked, 0), unexpectedCloses: Client.unexpectedCloses })
    }
  })
}

// Fixed-rate publisher for the latency scenario: payload = seq (u32) + hrtime (u64) + padding.
function pubRate (client, topic) {
  const size = Math.max(12, cfg.payloadSize)
  const template = publishPacket(topic, payloadOf(size), 0)
  const off = template.length - size
  const rate = cfg.rate
  let sent = 0
  let start = 0n
  function tick () {
    if (Atomics.load(ctl, K.STOP) === 1) return
    const due = Math.floor(Number(now() - start) * rate / 1e9)
    while (sent < due) {
      const b = Buffer.from(template)
      b.writeUInt32BE(sent, off)
      b.writeBigUInt64BE(now(), off + 4)
      client.socket.write(b)
      sent++
      Atomics.add(ctl, K.SENT, 1)
      Atomics.add(ctl, K.PUB, 1)
    }
    setTimeout(tick, 1)
  }
  post({ type: 'ready' })
  parentPort.on('message', m => {
    if (m.type === 'go') { start = now(); tick() }
    else if (m.type === 'stop') post({ type: 'stopped', sentMsgs: sent })
    else if (m.type === 'close') { client.close(); post({ type: 'closed', unexpectedCloses: Client.unexpectedCloses }) }
  })
}

// Stores cfg.count retained messages (QoS 1, so every one is acknowledged = stored) on distinct topics.
async function pubRetained (client, payload) {
  const n = cfg.count
  const packets = []
  for (let i = 0; i < n; i++) packets.push(publishPacket(`bench/retained/${i}`, payload, 1, (i % 65535) + 1, true))
  const st = { acked: 0, sent: 0, batch: 100, maxUnacked: 500, ackBlocked: false, pumpFn: null }
  client.state = st
  await new Promise(resolve => {
    st.pumpFn = () => {
      while (st.sent < n && st.sent - st.acked + st.batch <= st.maxUnacked) {
        const end = Math.min(n, st.sent + st.batch)
        client.socket.write(Buffer.concat(packets.slice(st.sent, end)))
        st.sent = end
      }
      if (st.sent < n) st.ackBlocked = true
    }
    const check = setInterval(() => { if (st.acked >= n) { clearInterval(check); resolve() } }, 5)
    st.pumpFn()
  })
  post({ type: 'ready' })
  parentPort.on('message', m => {
    if (m.type === 'close') { client.close(); post({ type: 'closed', unexpectedCloses: Client.unexpectedCloses }) }
  })
}

// ---------------------------------------------------------------- idle connections
async function conns () {
  const { host, port, count, concurrency, keepalive } = cfg
  const packets = Array.from({ length: count }, (_, i) => connectPacket(`idle-${cfg.tag}-${i}`, keepalive))
  const clients = []
  post({ type: 'ready' })
  parentPort.on('message', async m => {
    if (m.type === 'go') {
      let next = 0
      let ok = 0
      let failed = 0
      const errors = new Map()
      const t0 = now()
      async function lane () {
        while (next < count) {
          const i = next++
          const c = new Client({ host, port, clientId: `idle-${cfg.tag}-${i}`, keepalive, connectBuf: packets[i] })
          clients.push(c)
          try { await c.connected; ok++ } catch (err) {
            failed++
            const why = String(err.code || err.message).replace(/ \(idle-[^)]*\)/, '') // one entry per reason, not per client
            errors.set(why, (errors.get(why) || 0) + 1)
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(count, concurrency) }, lane))
      const ms = Number(now() - t0) / 1e6
      post({ type: 'connected', ms, ok, failed, errors: [...errors.entries()] })
    } else if (m.type === 'close') {
      for (const c of clients) c.close()
      await sleep(10)
      post({ type: 'closed', unexpectedCloses: Client.unexpectedCloses })
    }
  })
}

// Let the coordinator read this thread's CPU time from /proc/self/task/<tid>/stat.
post({ type: 'tid', tid: Number(readlinkSync('/proc/thread-self').split('/').pop()) })

const roles = { sub, pub, conns }
roles[cfg.role]().catch(err => post({ type: 'error', message: err.stack || String(err) }))
