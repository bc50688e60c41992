// From the runs to the report: medians per broker for every row, the headline table (the rows of issue 12, each with
// its ratio to Mosquitto), and the detail tables (results, broker memory, latency diagnostics, CPU, limits).
import { summarize, median, cell, fmt, resultTable, cpuTable } from './report.mjs'
import { MEMORY_METRICS, LATENCY_DIAGNOSTICS, SCENARIOS, metricLabel, scenarioWarmup } from './scenarios.mjs'
import { describeRaised } from './limits.mjs'

const ok = (runs, b, sc, pinned) => runs.filter(r => r.broker === b && r.scenario === sc && !!r.pinned === pinned && !r.error)

function byBroker (runs, brokers, scenario, pinned, get) {
  const out = {}
  for (const b of brokers) {
    const rs = ok(runs, b, scenario, pinned)
    if (rs.length) out[b] = summarize(rs.map(get))
  }
  return out
}

// Every summary the report needs, for the unpinned runs and (when there are any) the pinned ones.
export function summarizeRuns (runs, scenarios, brokers, opts) {
  const modes = [...new Set(runs.map(r => !!r.pinned))].sort()
  const out = { modes, rows: {}, memory: {}, diagnostics: {}, cpu: {}, limits: {} }
  for (const pinned of modes) {
    const key = pinned ? 'pinned' : 'free'
    out.rows[key] = []
    out.memory[key] = []
    out.diagnostics[key] = []
    out.cpu[key] = []
    for (const scenario of scenarios) {
      for (const metric of scenario.metrics) {
        if (metric.when && !metric.when(opts)) continue
        out.rows[key].push({ scenario: scenario.id, metric: metric.key, label: metricLabel(scenario, metric, opts), unit: metric.unit, better: metric.better, byBroker: byBroker(runs, brokers, scenario.id, pinned, metric.get) })
      }
      if (scenario.memory) {
        const m = { scenario: scenario.id, label: scenario.short || scenario.title }
        for (const metric of MEMORY_METRICS) m[metric.key] = byBroker(runs, brokers, scenario.id, pinned, metric.get)
        // --probe all: the event-loop delay and GC figures of the throughput window
        for (const k of ['eldP99', 'eldMax', 'gcCount', 'gcTotalMs', 'gcMaxMs']) m[k] = byBroker(runs, brokers, scenario.id, pinned, r => r[k] ?? NaN)
        out.memory[key].push(m)
      }
      if (scenario.id === 'latency') { // the TCP run's diagnostics (the TLS and WebSocket runs report theirs in the JSON)
        for (const metric of LATENCY_DIAGNOSTICS) {
          out.diagnostics[key].push({ ...metric, byBroker: byBroker(runs, brokers, scenario.id, pinned, metric.get) })
        }
      }
      const cpu = {}
      for (const b of brokers) {
        const rs = ok(runs, b, scenario.id, pinned)
        if (rs.length) cpu[b] = { broker: median(rs.map(r => r.brokerCpu)), gen: median(rs.map(r => r.genCpu)), other: Math.max(...rs.map(r => r.otherCpu || 0)), lost: Math.max(...rs.map(r => r.lost || 0)) }
      }
      out.cpu[key].push({ label: scenario.title, byBroker: cpu })
    }
  }
  for (const r of runs) {
    if (r.limits && !out.limits[r.scenario]?.[r.broker]) (out.limits[r.scenario] ||= {})[r.broker] = r.limits
  }
  return out
}

// a ratio of two positive medians (a difference that came out negative has none)
const ratio = (a, b) => Number.isFinite(a) && Number.isFinite(b) && a > 0 && b > 0 ? `${(a / b).toFixed(2)}×` : '–'
const signed = (x, unit) => Number.isFinite(x) ? `${x < 0 ? '−' : '+'}${fmt(Math.abs(x), unit)}` : '–'
const HEAD = ['hearth', 'aedes', 'mosquitto']

// rows: [{ label, cells: { broker: text }, values: { broker: number } }] -> markdown with hearth ÷ mosquitto and hearth ÷ aedes
function headlineMarkdown (rows) {
  const lines = ['| row | hearth | aedes | mosquitto | hearth ÷ mosquitto | hearth ÷ aedes |', '|---|---:|---:|---:|---:|---:|']
  for (const r of rows) {
    const v = r.values || {}
    lines.push(`| ${r.label} | ${HEAD.map(b => r.cells[b] ?? '–').join(' | ')} | ${ratio(v.hearth, v.mosquitto)} | ${ratio(v.hearth, v.aedes)} |`)
  }
  return lines.join('\n')
}

function fromSummary (label, summaries, unit) {
  const cells = {}
  const values = {}
  for (const [b, s] of Object.entries(summaries || {})) { cells[b] = cell(s, unit); values[b] = s.median }
  return { label, cells, values }
}

// The broker rows of the issue's table, from one mode's summaries.
function brokerRows (S, key, opts, suffix) {
  const rows = []
  const find = (sc, metric) => S.rows[key].find(r => r.scenario === sc && r.metric === metric)?.byBroker
  const rate = opts.rate === 1000 ? '1k' : String(opts.rate)
  if (find('latency', 'p50')) {
    rows.push(fromSummary(`latency at ${rate} msg/s, p50, ms ↓${suffix}`, find('latency', 'p50'), 'ms'))
    rows.push(fromSummary(`latency at ${rate} msg/s, p99, ms ↓${suffix}`, find('latency', 'p99'), 'ms'))
    rows.push(fromSummary(`latency at ${rate} msg/s, max, ms ↓${suffix}`, find('latency', 'max'), 'ms'))
  }
  const warm = SCENARIOS.find(s => s.id === 'latency-warm')
  if (find('latency-warm', 'p50')) {
    for (const k of ['p50', 'p99', 'max']) {
      rows.push(fromSummary(`latency at ${rate} msg/s after ${scenarioWarmup(warm, opts)} s of traffic, ${k}, ms ↓${suffix}`, find('latency-warm', k), 'ms'))
    }
  }
  if (find('conns', 'rate')) {
    const n = opts.conns % 1000 === 0 ? `${opts.conns / 1000}k` : String(opts.conns)
    rows.push(fromSummary(`connect rate, ${n} clients, conn/s ↑${suffix}`, find('conns', 'rate'), 'conn/s'))
    rows.push(fromSummary(`RSS per idle connection (${n}), KB ↓${suffix}`, find('conns', 'rss'), 'KB'))
    if (find('conns', 'rssIdle')) rows.push(fromSummary(`RSS per idle connection (${n}) ${opts.connsIdle} s after connecting, KB ↓${suffix}`, find('conns', 'rssIdle'), 'KB'))
  }
  for (const m of S.memory[key]) {
    const cells = {}
    const values = {}
    for (const b of Object.keys(m.rssMax)) {
      cells[b] = `${fmt(m.rssMax[b].median, 'MB')} (${signed(m.rssGrowth[b]?.median, 'MB')})`
      values[b] = m.rssMax[b].median
    }
    rows.push({ label: `broker RSS during ${m.label} (CLI), MB (growth over idle) ↓${suffix}`, cells, values })
  }
  return rows
}

// The headline: every row of the issue's table (those that were measured in this run), then the pinned set.
export function headline (S, { restart, nodeRed }, opts) {
  const rows = []
  if (S.rows.free) rows.push(...brokerRows(S, 'free', opts, ''))
  if (restart) {
    const s = restart.summary
    const n = `${restart.json.retained >= 1000 ? `${restart.json.retained / 1000}k` : restart.json.retained} retained + ${restart.json.sessions >= 1000 ? `${restart.json.sessions / 1000}k` : restart.json.sessions} sessions`
    rows.push(fromSummary(`restart with ${n}: spawn → first CONNACK, ms ↓`, Object.fromEntries(Object.entries(s).map(([b, x]) => [b, x.connack])), 'ms'))
    rows.push(fromSummary(`restart with ${n}: RSS, MB ↓`, Object.fromEntries(Object.entries(s).map(([b, x]) => [b, x.rss])), 'MB'))
  }
  if (nodeRed && nodeRed.rows) {
    for (const qos of [0, 1]) {
      const cells = {}
      const values = {}
      for (const path of ['hearth', 'aedes']) {
        const r = nodeRed.rows.find(x => x.path === path && x.qos === qos)
        if (!r) continue
        values[path] = r.ofCeiling
        cells[path] = Number.isFinite(r.ofCeiling) ? `${(r.ofCeiling * 100).toFixed(0)}% (${fmt(r.summary.median, 'msg/s')} msg/s)` : '–'
      }
      const hop = nodeRed.rows.find(x => x.path === 'hop' && x.qos === qos)
      const floor = hop && Number.isFinite(hop.ofCeiling) ? ` (one pass-through node, no MQTT: ${(hop.ofCeiling * 100).toFixed(0)}%)` : ''
      rows.push({ label: `Node-RED 5 in-process path, publish QoS ${qos} → QoS 1 subscription (auto payload), share of generator → counter${floor} ↑`, cells, values })
    }
  }
  if (nodeRed && nodeRed.idle) {
    const cells = {}
    const values = {}
    for (const k of ['hearth', 'aedes']) {
      const x = nodeRed.idle.summary[k]
      if (!x) continue
      values[k] = x.added.median
      cells[k] = `${signed(x.added.median, 'MB')} (${fmt(x.before.median, 'MB')} → ${fmt(x.rss.median, 'MB')})`
    }
    rows.push({ label: 'idle Node-RED RSS added by a broker node, MB ↓', cells, values })
  }
  if (S.rows.pinned) rows.push(...brokerRows(S, 'pinned', opts, ' — pinned to one core'))
  return headlineMarkdown(rows)
}

function memoryTable (mem, brokers) {
  const lines = [`| scenario | ${brokers.map(b => `${b}: idle → max (growth), MB`).join(' | ')} | hearth ÷ mosquitto (max) |`, `|---|${brokers.map(() => '---:').join('|')}|---:|`]
  for (const m of mem) {
    const cells = brokers.map(b => m.rssMax[b] ? `${fmt(m.rssIdle[b].median, 'MB')} → ${cell(m.rssMax[b], 'MB')} (${signed(m.rssGrowth[b].median, 'MB')})` : '–')
    lines.push(`| ${m.label} | ${cells.join(' | ')} | ${ratio(m.rssMax.hearth?.median, m.rssMax.mosquitto?.median)} |`)
  }
  return lines.join('\n')
}

function diagnosticsTable (diag, brokers) {
  const node = brokers.filter(b => b !== 'mosquitto')
  const lines = [`| latency run (probe in the Node brokers) | ${node.join(' | ')} |`, `|---|${node.map(() => '---:').join('|')}|`]
  const show = (d, s) => {
    if (!s || !Number.isFinite(s.median)) return '–'
    if (d.unit === 'runs') { const v = s.values.filter(Number.isFinite); return `${v.filter(x => x === 1).length} of ${v.length}` }
    return cell(s, d.unit)
  }
  for (const d of diag) lines.push(`| ${d.label}${d.unit === 'ms' ? ', ms' : ''} | ${node.map(b => show(d, d.byBroker[b])).join(' | ')} |`)
  return lines.join('\n')
}

// --probe all: event-loop delay and GC pauses during each throughput window (Node brokers).
function throughputProbeTable (mem, brokers) {
  const node = brokers.filter(b => mem.some(m => Number.isFinite(m.gcCount[b]?.median)))
  if (!node.length) return ''
  const lines = [`| scenario | ${node.map(b => `${b}: event loop p99 / max, ms; GC pauses, total / max ms`).join(' | ')} |`, `|---|${node.map(() => '---:').join('|')}|`]
  for (const m of mem) {
    lines.push(`| ${m.label} | ${node.map(b => m.gcCount[b] && Number.isFinite(m.gcCount[b].median)
      ? `${fmt(m.eldP99[b].median, 'ms')} / ${fmt(m.eldMax[b].median, 'ms')}; ${fmt(m.gcCount[b].median, 'n')}, ${fmt(m.gcTotalMs[b].median, 'ms')} / ${fmt(m.gcMaxMs[b].median, 'ms')}`
      : '–').join(' | ')} |`)
  }
  return lines.join('\n')
}

function limitsTable (limits, brokers) {
  const lines = [`| scenario | ${brokers.join(' | ')} |`, `|---|${brokers.map(() => '---').join('|')}|`]
  for (const [sc, by] of Object.entries(limits)) lines.push(`| ${sc} | ${brokers.map(b => by[b] ? describeRaised(by[b]) : '–').join(' | ')} |`)
  return lines.join('\n')
}

export function detailMarkdown (S, brokers, opts) {
  let md = ''
  for (const key of ['free', 'pinned']) {
    if (!S.rows[key]) continue
    const title = key === 'pinned' ? ` — every broker pinned to core ${opts.pinBroker} (\`taskset -c ${opts.pinBroker}\`), the generator to ${opts.pinGen}` : ''
    md += `### Results${title}\n\n${resultTable(S.rows[key], brokers)}\n\n`
    if (S.memory[key].length) {
      md += `Broker VmRSS in the throughput runs${title ? ' (pinned)' : ''}: idle = before the generator connects; max = largest of the samples taken every 100 ms through the measured window:\n\n${memoryTable(S.memory[key], brokers)}\n\n`
      const probe = throughputProbeTable(S.memory[key], brokers)
      if (probe) md += `The Node brokers' event loop and GC in the throughput windows (--probe all; medians)${title ? ' (pinned)' : ''}:\n\n${probe}\n\n`
    }
    if (S.diagnostics[key].length && S.diagnostics[key].some(d => Object.keys(d.byBroker).length)) {
      md += `Where the latency tail comes from${title ? ' (pinned)' : ''}: event-loop delay (how late a ${opts.eldResolution} ms timer fired) and GC pauses in the broker during the window, and the share of latency samples whose flight overlaps a GC pause (Mosquitto: no probe):\n\n${diagnosticsTable(S.diagnostics[key], brokers)}\n\n`
    }
    md += `CPU during the measured window${title ? ' (pinned)' : ''}, medians (100% = one core; 'other' = the largest share any run saw taken by the rest of the machine, i.e. noise):\n\n${cpuTable(S.cpu[key], brokers)}\n\n`
  }
  if (Object.keys(S.limits).length) {
    md += 'Limits set for each scenario above the broker\'s default (bench/lib/limits.mjs: Hearth through a generated `--config` file, Mosquitto through its ' +
      'configuration file, where `max_connections -1` is written out although it is the default; everything else at its default; Aedes has no such limits):\n\n' +
      `${limitsTable(S.limits, brokers)}\n\n`
  }
  return md
}
