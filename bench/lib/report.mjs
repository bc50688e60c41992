// Medians, ratios and the markdown tables.

export function median (xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export function summarize (values) {
  const v = values.filter(Number.isFinite)
  return { median: median(v), min: v.length ? Math.min(...v) : NaN, max: v.length ? Math.max(...v) : NaN, n: v.length, values }
}

export function fmt (x, unit) {
  if (!Number.isFinite(x)) return '–'
  if (unit === 'msg/s' || unit === 'conn/s') {
    if (x >= 100000) return `${(x / 1000).toFixed(0)}k`
    if (x >= 1000) return `${(x / 1000).toFixed(1)}k`
    return x.toFixed(0)
  }
  if (unit === 'ms') return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3)
  if (unit === 'KB') return x >= 100 ? x.toFixed(0) : x.toFixed(2)
  if (unit === 'MB') return Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2)
  if (unit === 'n') return Number.isInteger(x) ? String(x) : x.toFixed(1)
  if (unit === '%') return `${(x * 100).toFixed(0)}%`
  return String(x)
}

export function cell (s, unit) {
  if (!s || !Number.isFinite(s.median)) return '–'
  if (s.n === 1) return fmt(s.median, unit)
  return `${fmt(s.median, unit)} (${fmt(s.min, unit)}–${fmt(s.max, unit)})`
}

function ratio (a, b) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '–'
  return `${(a / b).toFixed(2)}×`
}

// rows: [{ label, unit, better, byBroker: { name: summary } }]
export function resultTable (rows, brokers) {
  const pairs = []
  for (const a of brokers) {
    for (const b of ['mosquitto', 'aedes', 'hearth-nosys']) if (a !== b && brokers.includes(b) && !(a === 'mosquitto' && b === 'aedes') && !(b === 'hearth-nosys' && !a.startsWith('hearth'))) pairs.push([a, b])
  }
  const head = ['measure', ...brokers.map(b => `${b} median (min–max)`), ...pairs.map(([a, b]) => `${a} ÷ ${b}`)]
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => i === 0 ? '---' : '---:').join('|')}|`]
  for (const r of rows) {
    const arrow = r.better === 'higher' ? '↑' : '↓'
    const cells = [`${r.label} (${r.unit}, ${arrow})`, ...brokers.map(b => cell(r.byBroker[b], r.unit)),
      ...pairs.map(([a, b]) => ratio(r.byBroker[a]?.median, r.byBroker[b]?.median))]
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

// CPU during the measured window, in cores (1.0 = one core busy), and deliveries lost.
export function cpuTable (rows, brokers) {
  const head = ['scenario', ...brokers.map(b => `${b}: broker / generator / other`), 'lost (max over runs)']
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => i === 0 ? '---' : '---:').join('|')}|`]
  for (const r of rows) {
    const cells = [r.label, ...brokers.map(b => {
      const c = r.byBroker[b]
      return c ? `${fmt(c.broker, '%')} / ${fmt(c.gen, '%')} / ${fmt(c.other, '%')}` : '–'
    }), brokers.map(b => r.byBroker[b] && r.byBroker[b].lost ? `${b} ${r.byBroker[b].lost}` : null).filter(Boolean).join(', ') || '0']
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

export function machineTable (m) {
  const rows = [
    ['CPU', `${m.cpuModel}, ${m.cores} cores`],
    ['memory', `${m.memoryMB} MB`],
    ['kernel', m.kernel],
    ['node (brokers + generator)', m.node],
    ['mosquitto', m.mosquitto || 'not installed'],
    ['aedes', m.aedes],
    ['node-red', m.nodeRed],
    ['hearth commit', m.hearthCommit || 'uncommitted']
  ]
  return ['| machine | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n')
}
