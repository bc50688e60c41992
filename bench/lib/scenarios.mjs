// The broker scenarios. Each yields the job the generator runs and the metrics the table shows.
// Windows are end-to-end: deliveries written but not yet counted by a subscriber. They keep every broker
// busy without letting queues grow without bound (Mosquitto drops QoS>0 messages past 1000 queued per client).
// QoS 0 subscribers coalesce reads: after a read under 64 KB the socket pauses `ms` before reading again, so a
// broker that writes one packet per syscall (Mosquitto) does not cost the generator one wake-up per packet.
// QoS 1/2 subscribers read eagerly: their acks pace the broker (Mosquitto keeps 20 in flight per client).
const coalesce = ms => ({ ms, minBytes: 65536 })

const msgs = (label, better = 'higher') => ({ key: 'value', label, unit: 'msg/s', better, get: r => r.value })

// Figures every throughput scenario also gives (memory: true): broker VmRSS, MB.
export const MEMORY_METRICS = [
  { key: 'rssIdle', label: 'broker RSS idle', unit: 'MB', better: 'lower', get: r => r.rssIdleKB / 1024 },
  { key: 'rssMax', label: 'broker RSS during the run (max)', unit: 'MB', better: 'lower', get: r => r.rssMaxKB / 1024 },
  { key: 'rssGrowth', label: 'broker RSS growth over idle', unit: 'MB', better: 'lower', get: r => r.rssGrowthKB / 1024 }
]

// The latency run's diagnostics (Node brokers with the probe; Mosquitto has none).
export const LATENCY_DIAGNOSTICS = [
  { key: 'eldP50', label: 'event-loop delay p50', unit: 'ms', get: r => r.eldP50 },
  { key: 'eldP99', label: 'event-loop delay p99', unit: 'ms', get: r => r.eldP99 },
  { key: 'eldMax', label: 'event-loop delay max', unit: 'ms', get: r => r.eldMax },
  { key: 'gcCount', label: 'GC pauses in the window', unit: 'n', get: r => r.gcCount },
  { key: 'gcTotalMs', label: 'GC pause total', unit: 'ms', get: r => r.gcTotalMs },
  { key: 'gcMaxMs', label: 'GC pause max', unit: 'ms', get: r => r.gcMaxMs },
  { key: 'gcShareAll', label: 'samples overlapping a GC pause', unit: '%', get: r => r.gcShareAll },
  { key: 'gcShareTail', label: 'samples ≥ p99 overlapping a GC pause', unit: '%', get: r => r.gcShareTail },
  { key: 'maxDuringGc', label: 'runs whose max sample overlaps a GC pause', unit: 'runs', get: r => r.maxDuringGc === undefined ? NaN : r.maxDuringGc ? 1 : 0 }
]

export const SCENARIOS = [
  {
    id: 'fanin',
    short: 'fan-in QoS 0 4→1',
    memory: true, // broker VmRSS sampled through the window
    title: 'fan-in QoS0, 4 pub → 1 sub',
    job: _o => ({ kind: 'throughput', pubs: 4, subs: 1, qos: 0, window: 20000, batch: 500, coalesce: coalesce(2) }),
    metrics: [msgs('fan-in QoS0 4→1, delivered msg/s')]
  },
  {
    id: 'fanout50',
    short: 'fan-out QoS 0 1→50',
    memory: true, // broker VmRSS sampled through the window
    title: 'fan-out QoS0, 1 pub → 50 subs',
    job: _o => ({ kind: 'throughput', pubs: 1, subs: 50, qos: 0, window: 50 * 2000, batch: 200, coalesce: coalesce(2) }),
    metrics: [msgs('fan-out QoS0 1→50, delivered msg/s')]
  },
  {
    id: 'fanout1000',
    short: 'fan-out QoS 0 1→1000',
    memory: true, // broker VmRSS sampled through the window
    title: 'fan-out QoS0, 1 pub → 1000 subs',
    job: _o => ({ kind: 'throughput', pubs: 1, subs: 1000, qos: 0, window: 1000 * 1000, batch: 20, coalesce: coalesce(50) }),
    metrics: [msgs('fan-out QoS0 1→1000, delivered msg/s')]
  },
  {
    id: 'qos1',
    short: 'QoS 1 1→1',
    memory: true, // broker VmRSS sampled through the window
    title: 'QoS1 end to end, 1 pub → 1 sub',
    job: _o => ({ kind: 'throughput', pubs: 1, subs: 1, qos: 1, window: 1000, batch: 20 }),
    metrics: [msgs('QoS1 end to end 1→1, msg/s')]
  },
  {
    id: 'qos2',
    short: 'QoS 2 1→1',
    memory: true, // broker VmRSS sampled through the window
    title: 'QoS2 end to end, 1 pub → 1 sub',
    job: _o => ({ kind: 'throughput', pubs: 1, subs: 1, qos: 2, window: 1000, batch: 20, maxUnacked: 20 }),
    metrics: [msgs('QoS2 end to end 1→1, msg/s')]
  },
  {
    id: 'retained',
    title: 'retained burst: retained topics → one `#` subscriber',
    job: o => ({ kind: 'retained', count: o.retained, timeoutS: 60 }),
    metrics: [{ key: 'value', label: 'retained burst', unit: 'ms', better: 'lower', get: r => r.value }]
  },
  {
    id: 'latency',
    title: 'latency at a fixed rate, QoS0 1→1',
    job: o => ({ kind: 'latency', rate: o.rate, duration: o.latencyDuration }),
    metrics: [
      { key: 'p50', label: 'latency p50 at 1k msg/s', unit: 'ms', better: 'lower', get: r => r.p50 },
      { key: 'p99', label: 'latency p99 at 1k msg/s', unit: 'ms', better: 'lower', get: r => r.p99 },
      { key: 'max', label: 'latency max at 1k msg/s', unit: 'ms', better: 'lower', get: r => r.max }
    ]
  },
  // The same run after 15 s of traffic instead of the usual warm-up: a Node broker compiles its hot paths in the
  // first seconds of traffic (at 1k msg/s, about 5 s), and the compiler's work lands in the tail of a run that
  // starts after 1 s. This one measures the broker as it runs for the rest of its life (the rows stay the
  // 1 s ones).
  {
    id: 'latency-warm',
    kind: 'latency',
    title: 'latency at a fixed rate, QoS0 1→1, after 15 s of traffic',
    warmup: o => o.quick ? 5 : Math.max(o.warmup, 15),
    job: o => ({ kind: 'latency', rate: o.rate, duration: o.latencyDuration }),
    metrics: ['p50', 'p99', 'max'].map(key =>
      ({ key, label: `latency ${key} at 1k msg/s after {warmup} s of traffic`, unit: 'ms', better: 'lower', get: r => r[key] }))
  },
  // The same fan-in and latency runs over TLS (mqtts, a self-signed certificate made at run time) and over
  // WebSocket (ws, path /mqtt). Each broker opens that listener; Debian's Mosquitto has no WebSocket.
  ...['tls', 'ws'].flatMap(transport => {
    const over = transport === 'tls' ? 'over TLS' : 'over WebSocket'
    return [
      {
        id: `fanin-${transport}`,
        short: `fan-in QoS 0 4→1 ${over}`,
        memory: true,
        transport,
        title: `fan-in QoS0, 4 pub → 1 sub, ${over}`,
        // no receive coalescing: TLS and WebSocket reads come a record or a frame at a time (16 KB at most), so
        // pausing after every read under 64 KB would cap the subscriber instead of the broker
        job: _o => ({ kind: 'throughput', pubs: 4, subs: 1, qos: 0, window: 20000, batch: 500, transport }),
        metrics: [msgs(`fan-in QoS0 4→1 ${over}, delivered msg/s`)]
      },
      {
        id: `latency-${transport}`,
        kind: 'latency',
        transport,
        title: `latency at a fixed rate, QoS0 1→1, ${over}`,
        job: o => ({ kind: 'latency', rate: o.rate, duration: o.latencyDuration, transport }),
        metrics: ['p50', 'p99', 'max'].map(key =>
          ({ key, label: `latency ${key} at 1k msg/s ${over}`, unit: 'ms', better: 'lower', get: r => r[key] }))
      }
    ]
  }),
  {
    id: 'conns',
    title: 'idle connections: connect rate and broker RSS per connection',
    job: o => ({ kind: 'conns', count: o.conns, concurrency: o.connConcurrency, threads: 2, timeoutS: 120, settleS: o.quick ? 1 : 2, idleS: o.connsIdle }),
    metrics: [
      { key: 'rate', label: 'connect rate', unit: 'conn/s', better: 'higher', get: r => r.value },
      { key: 'rss', label: 'broker RSS per idle connection', unit: 'KB', better: 'lower', get: r => r.rssPerConnKB },
      { key: 'rssIdle', label: 'broker RSS per idle connection {idle} s after connecting', unit: 'KB', better: 'lower', get: r => r.rssPerConnIdleKB, when: o => o.connsIdle > 0 }
    ]
  },
  // The same over TLS: each connection is a full handshake (no session resumption), a fifth of the TCP count
  {
    id: 'conns-tls',
    kind: 'conns',
    transport: 'tls',
    title: 'idle connections over TLS: connect rate (full handshakes) and broker RSS per connection',
    job: o => ({ kind: 'conns', count: Math.max(100, Math.round(o.conns / 5)), concurrency: o.connConcurrency, threads: 2, timeoutS: 120, settleS: o.quick ? 1 : 2, transport: 'tls' }),
    metrics: [
      { key: 'rate', label: 'connect rate over TLS', unit: 'conn/s', better: 'higher', get: r => r.value },
      { key: 'rss', label: 'broker RSS per idle TLS connection', unit: 'KB', better: 'lower', get: r => r.rssPerConnKB }
    ]
  }
]

// The unmeasured lead-in of a scenario's runs, s: its own, else --warmup.
export function scenarioWarmup (scenario, o) {
  return scenario.warmup ? scenario.warmup(o) : o.warmup
}

// Labels that depend on options.
export function metricLabel (scenario, metric, o) {
  if (scenario.id === 'retained') return `retained burst ${fmtCount(o.retained)} → #, time to deliver all`
  if ((scenario.kind ?? scenario.id) === 'latency') return metric.label.replace('1k', fmtCount(o.rate)).replace('{warmup}', String(scenarioWarmup(scenario, o)))
  if (scenario.id === 'conns') return `${metric.label.replace('{idle}', String(o.connsIdle))} (${fmtCount(o.conns)} conns)`
  if (scenario.id === 'conns-tls') return `${metric.label} (${fmtCount(Math.max(100, Math.round(o.conns / 5)))} conns)`
  return metric.label
}

function fmtCount (n) {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n)
}
