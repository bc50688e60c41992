// A strict parser of the Prometheus text exposition format (version 0.0.4), written from the format's
// description (prometheus.io/docs/instrumenting/exposition_formats): every line must be a HELP, a TYPE,
// another comment, a blank line or a sample; anything else throws, naming the line. On top of the format
// it checks what a scraper relies on: one TYPE per family, given before its samples; a family's lines
// kept together; no series twice; sample names that fit the family's type (histograms: _bucket with le,
// _sum, _count; cumulative buckets ending in +Inf = _count); counters and bucket counts never negative.

type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Family {
  name: string
  type: MetricType
  help: string | undefined
  samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped']
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/

function fail (lineNo: number, line: string, why: string): never {
  throw new Error(`exposition line ${lineNo}: ${why}: ${JSON.stringify(line)}`)
}

function parseValue (s: string, lineNo: number, line: string): number {
  if (s === 'NaN') return NaN
  if (s === '+Inf' || s === 'Inf') return Infinity
  if (s === '-Inf') return -Infinity
  if (!FLOAT.test(s)) fail(lineNo, line, `bad value ${JSON.stringify(s)}`)
  return Number(s)
}

/** `{a="x",b="y"}` starting at text[i] === '{'; returns the labels and the index after '}'. */
function parseLabels (text: string, i: number, lineNo: number, line: string): { labels: Record<string, string>, end: number } {
  const labels: Record<string, string> = {}
  i++ // '{'
  for (;;) {
    if (text[i] === '}') return { labels, end: i + 1 }
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i))
    if (m === null) fail(lineNo, line, `bad label name at column ${i}`)
    const name = m[0]
    if (name.startsWith('__')) fail(lineNo, line, `reserved label name ${name}`)
    if (name in labels) fail(lineNo, line, `label ${name} twice`)
    i += name.length
    if (text[i] !== '=' || text[i + 1] !== '"') fail(lineNo, line, `expected =" after label ${name}`)
    i += 2
    let value = ''
    for (;;) {
      const c = text[i]
      if (c === undefined) fail(lineNo, line, 'unterminated label value')
      if (c === '"') { i++; break }
      if (c === '\\') {
        const e = text[i + 1]
        if (e === '\\') value += '\\'
        else if (e === '"') value += '"'
        else if (e === 'n') value += '\n'
        else fail(lineNo, line, `bad escape \\${e ?? ''} in a label value`)
        i += 2
        continue
      }
      if (c === '\n') fail(lineNo, line, 'raw newline in a label value')
      value += c
      i++
    }
    labels[name] = value
    if (text[i] === ',') { i++; continue }
    if (text[i] !== '}') fail(lineNo, line, `expected , or } after label ${name}`)
  }
}

function unescapeHelp (s: string, lineNo: number, line: string): string {
  return s.replace(/\\(.?)/g, (_m, e: string) => {
    if (e === '\\') return '\\'
    if (e === 'n') return '\n'
    return fail(lineNo, line, `bad escape \\${e} in HELP`)
  })
}

/** The family a sample belongs to, given the declared families (histogram/summary suffixes). */
function familyOf (sample: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sample)
  if (direct !== undefined) return direct
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue
    const f = families.get(sample.slice(0, -suffix.length))
    if (f !== undefined && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f
  }
  return undefined
}

/** Parse a whole exposition; throws on the first line that breaks the format. */
export function parsePrometheus (text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a line feed')
  const families = new Map<string, Family>()
  const seen = new Set<string>()
  const closed = new Set<string>()
  const typed = new Set<string>()
  let current: string | undefined
  const lines = text.slice(0, -1).split('\n')
  lines.forEach((line, idx) => {
    const n = idx + 1
    if (line === '') return
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line)
      if (m === null) return // another comment
      const [, kind, name, rest] = m
      if (!METRIC_NAME.test(name)) fail(n, line, `bad metric name ${name}`)
      if (closed.has(name)) fail(n, line, `family ${name} continues after another family`)
      if (current !== undefined && current !== name) closed.add(current)
      current = name
      let f = families.get(name)
      if (f === undefined) families.set(name, f = { name, type: 'untyped', help: undefined, samples: [] })
      if (kind === 'HELP') {
        if (f.help !== undefined) fail(n, line, `second HELP for ${name}`)
        f.help = unescapeHelp(rest ?? '', n, line)
      } else {
        if (!TYPES.includes(rest as MetricType)) fail(n, line, `unknown type ${String(rest)}`)
        if (f.samples.length > 0) fail(n, line, `TYPE for ${name} after its samples`)
        if (typed.has(name)) fail(n, line, `second TYPE for ${name}`)
        typed.add(name)
        f.type = rest as MetricType
      }
      return
    }
    const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
    if (nm === null) fail(n, line, 'a sample must start with a metric name')
    const name = nm[0]
    let i = name.length
    let labels: Record<string, string> = {}
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, n, line))
    if (line[i] !== ' ') fail(n, line, 'expected one space before the value')
    const parts = line.slice(i + 1).split(' ')
    if (parts.length > 2 || parts[0] === '') fail(n, line, 'expected a value and an optional timestamp')
    const value = parseValue(parts[0], n, line)
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) fail(n, line, 'bad timestamp')
    let f = familyOf(name, families)
    if (f === undefined) {
      if (closed.has(name)) fail(n, line, `family ${name} continues after another family`)
      families.set(name, f = { name, type: 'untyped', help: undefined, samples: [] })
    }
    if (f.name !== current) {
      if (closed.has(f.name)) fail(n, line, `family ${f.name} continues after another family`)
      if (current !== undefined) closed.add(current)
      current = f.name
    }
    const key = `${name}{${Object.keys(labels).sort().map(k => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`
    if (seen.has(key)) fail(n, line, `series ${key} twice`)
    seen.add(key)
    if (f.type === 'histogram') {
      if (name === `${f.name}_bucket`) {
        if (labels.le === undefined) fail(n, line, 'a histogram bucket needs an le label')
        parseValue(labels.le, n, line)
      } else if (name !== `${f.name}_sum` && name !== `${f.name}_count`) fail(n, line, `${name} is not a sample name of histogram ${f.name}`)
      else if (labels.le !== undefined) fail(n, line, 'le on a histogram _sum/_count')
    }
    if ((f.type === 'counter' || name.endsWith('_bucket') || name.endsWith('_count')) && !(value >= 0)) fail(n, line, 'a counter must be a non-negative number')
    for (const k of Object.keys(labels)) if (!LABEL_NAME.test(k)) fail(n, line, `bad label name ${k}`)
    f.samples.push({ name, labels, value })
  })
  for (const f of families.values()) {
    if (f.type !== 'histogram') continue
    const buckets = f.samples.filter(s => s.name.endsWith('_bucket'))
    const count = f.samples.find(s => s.name === `${f.name}_count`)
    const inf = buckets.find(b => b.labels.le === '+Inf')
    if (inf === undefined || count === undefined || f.samples.find(s => s.name === `${f.name}_sum`) === undefined) {
      throw new Error(`histogram ${f.name} lacks its +Inf bucket, _sum or _count`)
    }
    const sorted = [...buckets].sort((a, b) => Number(a.labels.le === '+Inf' ? Infinity : a.labels.le) - Number(b.labels.le === '+Inf' ? Infinity : b.labels.le))
    for (let k = 1; k < sorted.length; k++) {
      if (sorted[k].value < sorted[k - 1].value) throw new Error(`histogram ${f.name}: buckets are not cumulative at le=${sorted[k].labels.le}`)
    }
    if (inf.value !== count.value) throw new Error(`histogram ${f.name}: the +Inf bucket (${inf.value}) differs from _count (${count.value})`)
  }
  return families
}

/** The value of the one series named `name` whose labels include `labels`; throws unless exactly one matches. */
export function valueOf (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const found: Sample[] = []
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.keys(labels).every(k => s.labels[k] === labels[k])) found.push(s)
    }
  }
  if (found.length !== 1) throw new Error(`${found.length} series ${name}${JSON.stringify(labels)} in the exposition, expected 1`)
  return found[0].value
}
