#!/usr/bin/env node
// Hearth benchmark: Hearth (CLI) vs Aedes vs Mosquitto, interleaved, medians with min/max, ratios.
// Usage: node bench/run.mjs [--quick] [--repeats 3] [--duration 5] [--warmup 1] [--only fanin,qos1,...]
//                           [--brokers hearth,aedes,mosquitto] [--conns 10000] [--no-node-red] [--node /path/to/node]
// Every flag also reads from the environment: BENCH_REPEATS, BENCH_DURATION, BENCH_ONLY, BENCH_BROKERS, BENCH_QUICK=1 ...
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { BROKERS, DEFAULT_BROKERS, MOSQUITTO_BIN, spawnWithFds } from './lib/brokers.mjs'
import { SCENARIOS, metricLabel } from './lib/scenarios.mjs'
import { summarize, median, resultTable, cpuTable, machineTable, fmt } from './lib/report.mjs'
import { machineInfo, systemBusySeconds } from './lib/proc.mjs'
import { selfTest } from './selftest.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const GEN = fileURLToPath(new URL('./gen/gen.mjs', import.meta.url))
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

const HELP = `node bench/run.mjs [options]
  --quick               ~1-2 min: 1 repeat, 2 s windows, 2000 idle connections, small Node-RED runs
  --repeats N           interleaved repeats per broker and scenario (default 3)
  --duration S          measured window per throughput/latency run, seconds (default 5)
  --warmup S            unmeasured lead-in before each window (default 1)
  --only a,b            scenarios: ${SCENARIOS.map(s => s.id).join(', ')}, nodered
  --brokers a,b         brokers: ${DEFAULT_BROKERS.join(', ')} (default: those available), or relay
                        (a byte-forwarding stub: the generator's own ceiling), or hearth-nosys / hearth-sys1
                        (Hearth with sysInterval 0 / 1 instead of the default 10: the cost of the $SYS tree)
  --conns N             idle connections (default 10000)
  --conn-concurrency N  connects in flight (default 100)
  --payload B           payload bytes (default 32)
  --retained N          retained topics in the burst (default 10000)
  --rate N              latency scenario msg/s (default 1000)
  --no-node-red         skip the in-process Node-RED scenario
  --quiet-wait S        before each run wait up to S s for the machine to be idle (default 60; 0 = never)
  --quiet-cpu C         "idle" = at most C cores busy (default 0.15)
  --noisy-cpu C         a run is noisy when other processes took more than C cores meanwhile (default 0.3)
  --retries N           re-measure a noisy run up to N times (default 2)
  --node PATH           node binary for the brokers and the generator (default: this one, ${process.execPath})
  --out DIR             results directory (default bench/results)`

function parseArgs (argv) {
  const env = process.env
  const o = {
    quick: false,
    repeats: 3,
    duration: 5,
    warmup: 1,
    only: null,
    brokers: null,
    conns: 10000,
    connConcurrency: 100,
    payload: 32,
    retained: 10000,
    rate: 1000,
    nodeRed: true,
    node: process.execPath,
    quietWait: 60,
    quietCpu: 0.15,
    noisyCpu: 0.3,
    retries: 2,
    out: join(ROOT, 'bench/results')
  }
  const envMap = { BENCH_QUICK: 'quick', BENCH_REPEATS: 'repeats', BENCH_DURATION: 'duration', BENCH_WARMUP: 'warmup', BENCH_ONLY: 'only', BENCH_BROKERS: 'brokers', BENCH_CONNS: 'conns', BENCH_NODE: 'node' }
  const set = {}
  for (const [k, v] of Object.entries(envMap)) if (env[k] !== undefined && env[k] !== '') set[v] = env[k]
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--help' || a === '-h') { console.log(HELP); process.exit(0) }
    if (a === '--quick') { set.quick = '1'; continue }
    if (a === '--no-node-red') { set.nodeRed = '0'; continue }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a)
    if (!m) throw new Error(`unknown argument ${a}\n${HELP}`)
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (!(key in o)) throw new Error(`unknown option --${m[1]}\n${HELP}`)
    set[key] = m[2] ?? argv[++i]
  }
  if (set.quick !== undefined && set.quick !== '0') {
    Object.assign(o, { quick: true, repeats: 1, duration: 2, warmup: 0.5, conns: 2000 })
  }
  for (const [k, v] of Object.entries(set)) {
    if (k === 'quick') continue
    if (k === 'only' || k === 'brokers') o[k] = String(v).split(',').map(s => s.trim()).filter(Boolean)
    else if (k === 'nodeRed') o[k] = v !== '0'
    else if (typeof o[k] === 'number') {
      o[k] = Number(v)
      if (!Number.isFinite(o[k]) || o[k] < 0) throw new Error(`--${k} needs a number`)
    } else o[k] = v
  }
  o.latencyDuration = o.duration
  return o
}

function runGen (job, opts) {
  const gen = spawnWithFds(opts.node, [GEN], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const result = new Promise((resolve, reject) => {
    const limit = (job.warmup + job.duration + (job.timeoutS || 0) + 60) * 1000
    const timer = setTimeout(() => reject(new Error('generator timed out')), limit)
    gen.on('message', m => { if (m.type === 'result') { clearTimeout(timer); m.error ? reject(new Error(m.error)) : resolve(m.result) } })
    gen.once('exit', code => { clearTimeout(timer); reject(new Error(`generator exited with ${code}`)) })
  })
  gen.send({ type: 'job', job })
  const end = async () => {
    if (gen.exitCode !== null || gen.signalCode !== null) return
    const exited = new Promise(resolve => gen.once('exit', resolve))
    try { gen.send({ type: 'exit' }) } catch {}
    const t = setTimeout(() => gen.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
  return { result, end }
}

// The machine may be shared: before each run wait (up to --quiet-wait s) until the rest of it is nearly idle.
async function waitQuiet (opts) {
  const deadline = Date.now() + opts.quietWait * 1000
  let said = false
  for (;;) {
    const s0 = systemBusySeconds()
    await sleep(300)
    const busy = (systemBusySeconds() - s0) / 0.3 // a 300 ms sample of 10 ms ticks
    if (busy <= opts.quietCpu || Date.now() >= deadline) {
      if (said) console.log(`    …machine ${busy <= opts.quietCpu ? 'quiet' : 'still busy'} (${(busy * 100).toFixed(0)}% of a core in use)`)
      return busy
    }
    if (!said) { console.log(`    waiting for other load to settle (${(busy * 100).toFixed(0)}% of a core in use)`); said = true }
  }
}

async function measure (brokerName, scenario, rep, opts) {
  if (opts.quietWait > 0) await waitQuiet(opts)
  const broker = await BROKERS[brokerName].start({ nodeBin: opts.node })
  try {
    await sleep(200)
    const job = {
      ...scenario.job(opts),
      name: scenario.id,
      host: '127.0.0.1',
      port: broker.port,
      brokerPid: broker.pid,
      warmup: opts.warmup,
      duration: opts.duration,
      payloadSize: opts.payload,
      tag: `${brokerName}-${rep}`
    }
    const gen = runGen(job, opts)
    try {
      return await gen.result
    } catch (err) {
      err.message += `\n--- ${brokerName} log tail ---\n${broker.tail()}`
      throw err
    } finally {
      await broker.stop() // the broker goes first, so its side holds the TIME_WAITs
      await gen.end()
    }
  } finally {
    await broker.stop()
  }
}

// /proc/stat ticks are 10 ms: only windows of a second or more say anything about other load
const isNoisy = (r, opts) => r.windowS >= 1 && r.otherCpu > opts.noisyCpu

function describe (scenario, r) {
  const cpu = `broker ${fmt(r.brokerCpu, '%')} cpu, generator ${fmt(r.genCpu, '%')}, other ${fmt(r.otherCpu, '%')}`
  switch (scenario.id) {
    case 'latency': return `p50 ${fmt(r.p50, 'ms')} ms, p99 ${fmt(r.p99, 'ms')} ms, max ${fmt(r.max, 'ms')} ms (${r.samples} samples; ${cpu})`
    case 'retained': return `${fmt(r.value, 'ms')} ms = ${fmt(r.ratePerS, 'msg/s')} msg/s (${cpu})`
    case 'conns': return `${fmt(r.value, 'conn/s')} conn/s, RSS ${fmt(r.rssPerConnKB, 'KB')} KB/conn (${r.rssBeforeKB}→${r.rssAfterKB} KB, ${r.failed} failed; ${cpu})`
    default: return `${fmt(r.value, 'msg/s')} msg/s delivered, ${fmt(r.publishedPerS, 'msg/s')} published/s, lost ${r.lost} (${cpu})`
  }
}

async function main () {
  const opts = parseArgs(process.argv.slice(2))
  const started = new Date()
  const t0 = Date.now()
  const clock = () => { const s = Math.round((Date.now() - t0) / 1000); return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}` }
  const scenarios = SCENARIOS.filter(s => !opts.only || opts.only.includes(s.id))
  const wantNodeRed = opts.nodeRed && (!opts.only || opts.only.includes('nodered'))
  const unknown = (opts.only || []).filter(id => id !== 'nodered' && !SCENARIOS.some(s => s.id === id))
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`)
  const brokers = []
  const skipped = {}
  for (const name of opts.brokers || DEFAULT_BROKERS) {
    if (!BROKERS[name]) throw new Error(`unknown broker ${name}`)
    const why = BROKERS[name].available()
    if (why) { skipped[name] = why; console.log(`skipping ${name}: ${why}`) } else brokers.push(name)
  }
  selfTest() // the byte-scanning counter against mqtt-packet's encoder, at many read boundaries
  const machine = machineInfo({ mosquittoBin: MOSQUITTO_BIN, nodeBin: opts.node })
  console.log(`machine: ${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}, mosquitto ${machine.mosquitto || '-'}, aedes ${machine.aedes}`)
  console.log(`plan: ${opts.repeats} repeat(s) × [${scenarios.map(s => s.id).join(', ')}] × [${brokers.join(', ')}], ${opts.duration} s windows${wantNodeRed ? ', then Node-RED' : ''}`)

  const runs = []
  if (brokers.length && scenarios.length) {
    for (let rep = 1; rep <= opts.repeats; rep++) {
      for (const scenario of scenarios) {
        // interleaved: A B C, A B C ...; the starting broker rotates with the repeat
        const order = brokers.map((_, i) => brokers[(i + rep - 1) % brokers.length])
        for (const b of order) {
          const label = `${clock()} [${rep}/${opts.repeats}] ${scenario.id.padEnd(10)} ${b.padEnd(9)}`
          try {
            let r
            for (let attempt = 0; ; attempt++) {
              r = await measure(b, scenario, rep, opts)
              // another process took a real share of the machine during the window: measure again (twice at most)
              if (!isNoisy(r, opts) || attempt >= opts.retries) break
              console.log(`${label} noisy (${fmt(r.otherCpu, '%')} of a core taken by other processes), again: ${describe(scenario, r)}`)
            }
            r.noisy = isNoisy(r, opts)
            runs.push({ broker: b, scenario: scenario.id, rep, ...r })
            console.log(`${label} ${describe(scenario, r)}${r.noisy ? '  [NOISY]' : ''}`)
          } catch (err) {
            runs.push({ broker: b, scenario: scenario.id, rep, error: err.message })
            console.log(`${label} FAILED: ${err.message.split('\n').slice(0, 6).join('\n    ')}`)
          }
        }
      }
    }
  }

  // summary rows
  const rows = []
  const cpuRows = []
  for (const scenario of scenarios) {
    for (const metric of scenario.metrics) {
      const byBroker = {}
      for (const b of brokers) {
        const rs = runs.filter(r => r.broker === b && r.scenario === scenario.id && !r.error)
        if (rs.length) byBroker[b] = summarize(rs.map(metric.get))
      }
      rows.push({ scenario: scenario.id, metric: metric.key, label: metricLabel(scenario, metric, opts), unit: metric.unit, better: metric.better, byBroker })
    }
    const byBroker = {}
    for (const b of brokers) {
      const rs = runs.filter(r => r.broker === b && r.scenario === scenario.id && !r.error)
      if (rs.length) byBroker[b] = { broker: median(rs.map(r => r.brokerCpu)), gen: median(rs.map(r => r.genCpu)), other: Math.max(...rs.map(r => r.otherCpu || 0)), lost: Math.max(...rs.map(r => r.lost || 0)) }
    }
    cpuRows.push({ label: scenario.title, byBroker })
  }

  let nodeRed = null
  if (wantNodeRed) {
    const { runNodeRedBench } = await import('./node-red.mjs')
    nodeRed = await runNodeRedBench({ quick: opts.quick, repeats: opts.repeats, log: s => console.log(`${clock()} ${s}`) })
  }

  const finished = new Date()
  const failures = runs.filter(r => r.error)
  let md = `## Hearth benchmark — ${finished.toISOString()}\n\n${machineTable(machine)}\n\n`
  md += `${opts.repeats} interleaved repeat(s), ${opts.warmup} s warm-up + ${opts.duration} s measured per run, payload ${opts.payload} B, MQTT 3.1.1, everything on 127.0.0.1. ` +
    'Ratios are of medians; ↑ higher is better, ↓ lower is better.\n\n'
  if (rows.length && brokers.length) {
    md += `${resultTable(rows, brokers)}\n\n`
    md += `CPU during the measured window, medians (100% = one core; the generator is one process with a thread per role; 'other' = the largest share any run saw taken by the rest of the machine, i.e. noise):\n\n${cpuTable(cpuRows, brokers)}\n\n`
  }
  if (Object.keys(skipped).length) md += `Skipped brokers: ${Object.entries(skipped).map(([k, v]) => `${k} (${v})`).join(', ')}\n\n`
  if (failures.length) md += `Failed runs: ${failures.map(f => `${f.scenario}/${f.broker}#${f.rep}`).join(', ')}\n\n`
  if (nodeRed) md += `${nodeRed.markdown}\n\n`
  md += `Took ${((finished - started) / 1000).toFixed(0)} s.\n`

  console.log(`\n${md}`)
  mkdirSync(opts.out, { recursive: true })
  const stamp = started.toISOString().replace(/[:.]/g, '-')
  const json = { started: started.toISOString(), finished: finished.toISOString(), machine, options: opts, brokers, skipped, summary: rows, cpu: cpuRows, runs, nodeRed: nodeRed && nodeRed.json }
  for (const name of [`bench-${stamp}`, 'latest']) {
    writeFileSync(join(opts.out, `${name}.json`), JSON.stringify(json, null, 2))
    writeFileSync(join(opts.out, `${name}.md`), md)
  }
  console.log(`results: ${join(opts.out, `bench-${stamp}.json`)} (+ .md, latest.*)`)
  if (failures.length) process.exitCode = 1
}

main().catch(err => {
  console.error(err.stack || err)
  process.exit(1)
})
