#!/usr/bin/env node
// Hearth benchmark: Hearth (CLI) vs Aedes vs Mosquitto, interleaved, medians with min/max, ratios; each broker also
// pinned to one core; restart with large state; the in-process Node-RED path and the idle RSS of a broker node.
// Usage: node bench/run.mjs [--quick] [--repeats 3] [--duration 5] [--only fanin,qos1,...,restart,nodered]
//                           [--brokers hearth,aedes,mosquitto] [--pin also|only|off] [--probe latency|all|none] ...
// Every flag also reads from the environment: BENCH_REPEATS, BENCH_DURATION, BENCH_ONLY, BENCH_BROKERS, BENCH_QUICK=1 ...
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { BROKERS, DEFAULT_BROKERS, MOSQUITTO_BIN } from './lib/brokers.mjs'
import { cleanupOnSignals } from './lib/cleanup.mjs'
import { runGen } from './lib/gen-process.mjs'
import { needsOf } from './lib/limits.mjs'
import { RESTART_BROKERS, runRestartBench } from './lib/restart.mjs'
import { SCENARIOS, scenarioWarmup } from './lib/scenarios.mjs'
import { summarizeRuns, headline, detailMarkdown } from './lib/summary.mjs'
import { machineTable, fmt } from './lib/report.mjs'
import { machineInfo, systemBusySeconds } from './lib/proc.mjs'
import { selfTest } from './selftest.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

const CORES = os.cpus().length
const HELP = `node bench/run.mjs [options]
  --quick               about 10 minutes: 1 repeat, 2 s windows, 2000 idle connections, small Node-RED runs,
                        5 s quiet waits, no re-measuring; the restart scenario keeps its full size
  --repeats N           interleaved repeats per broker and scenario (default 3)
  --duration S          measured window per throughput/latency run, seconds (default 5)
  --warmup S            unmeasured lead-in before each window (default 1)
  --only a,b            scenarios: ${SCENARIOS.map(s => s.id).join(', ')}, restart, nodered (default: all)
  --brokers a,b         brokers: ${DEFAULT_BROKERS.join(', ')} (default: those available), or relay
                        (a byte-forwarding stub: the generator's own ceiling), or hearth-nosys / hearth-sys1
                        (Hearth with sysInterval 0 / 1 instead of the default 10: the cost of the $SYS tree), or
                        hearth-base (the built checkout named by BENCH_HEARTH_BASE, same config: before/after)
  --pin MODE            also | only | off (default also): every broker scenario again with the broker pinned to one
                        core (taskset -c 0) and the generator on the others, as an extra set of rows
  --probe WHICH         latency | all | none (default latency): load bench/brokers/probe.mjs into the Node brokers
                        (event-loop delay histogram, GC pauses) for the latency runs, or every run
  --eld-resolution MS   the probe's event-loop delay timer, ms (default 1)
  --trace-gc            run the Node brokers with --trace-gc; their output goes to <out>/trace-gc/
  --conns N             idle connections (default 10000)
  --conn-concurrency N  connects in flight (default 100)
  --conns-idle S        conns: measure the broker's RSS again once the connections have been idle S s (default 30,
                        --quick 0: not measured)
  --payload B           payload bytes (default 32)
  --retained N          retained topics in the burst (default 10000)
  --rate N              latency scenario msg/s (default 1000)
  --restart-retained N  restart scenario: retained topics (default 100000)
  --restart-sessions N  restart scenario: persistent sessions (default 1000)
  --no-restart          skip the restart scenario
  --no-node-red         skip the Node-RED scenario
  --quiet-wait S        before each run wait up to S s for the machine to be idle (default 60, --quick 5; 0 = never)
  --quiet-cpu C         "idle" = at most C cores busy (default 0.15)
  --noisy-cpu C         a run is noisy when other processes took more than C cores meanwhile (default 0.3)
  --retries N           re-measure a noisy run up to N times (default 2, --quick 0)
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
    pin: 'also',
    probe: 'latency',
    eldResolution: 1,
    traceGc: false,
    conns: 10000,
    connConcurrency: 100,
    connsIdle: 30,
    payload: 32,
    retained: 10000,
    rate: 1000,
    restartRetained: 100000,
    restartSessions: 1000,
    restart: true,
    nodeRed: true,
    node: process.execPath,
    quietWait: 60,
    quietCpu: 0.15,
    noisyCpu: 0.3,
    retries: 2,
    out: join(ROOT, 'bench/results')
  }
  const envMap = {
    BENCH_QUICK: 'quick', BENCH_REPEATS: 'repeats', BENCH_DURATION: 'duration', BENCH_WARMUP: 'warmup', BENCH_ONLY: 'only', BENCH_BROKERS: 'brokers',
    BENCH_CONNS: 'conns', BENCH_NODE: 'node', BENCH_PIN: 'pin', BENCH_PROBE: 'probe', BENCH_TRACE_GC: 'traceGc'
  }
  const set = {}
  for (const [k, v] of Object.entries(envMap)) if (env[k] !== undefined && env[k] !== '') set[v] = env[k]
  const flags = { '--quick': ['quick', '1'], '--no-node-red': ['nodeRed', '0'], '--no-restart': ['restart', '0'], '--trace-gc': ['traceGc', '1'] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--help' || a === '-h') { console.log(HELP); process.exit(0) }
    if (flags[a]) { set[flags[a][0]] = flags[a][1]; continue }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a)
    if (!m) throw new Error(`unknown argument ${a}\n${HELP}`)
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (!(key in o) || typeof o[key] === 'boolean') throw new Error(`unknown option --${m[1]}\n${HELP}`)
    set[key] = m[2] ?? argv[++i]
  }
  if (set.quick !== undefined && set.quick !== '0') {
    Object.assign(o, { quick: true, repeats: 1, duration: 2, warmup: 0.5, conns: 2000, connsIdle: 0, quietWait: 5, retries: 0 })
  }
  for (const [k, v] of Object.entries(set)) {
    if (k === 'quick') continue
    if (k === 'only' || k === 'brokers') o[k] = String(v).split(',').map(s => s.trim()).filter(Boolean)
    else if (typeof o[k] === 'boolean') o[k] = v !== '0' && v !== 'false'
    else if (typeof o[k] === 'number') {
      o[k] = Number(v)
      if (!Number.isFinite(o[k]) || o[k] < 0) throw new Error(`--${k} needs a number`)
    } else o[k] = v
  }
  if (!['also', 'only', 'off'].includes(o.pin)) throw new Error(`--pin takes also, only or off, not ${o.pin}`)
  if (!['latency', 'all', 'none'].includes(o.probe)) throw new Error(`--probe takes latency, all or none, not ${o.probe}`)
  // pinned runs: the broker on core 0, the generator on the others (on one core: both on core 0)
  o.pinBroker = '0'
  o.pinGen = CORES > 2 ? `1-${CORES - 1}` : CORES === 2 ? '1' : '0'
  o.latencyDuration = o.duration
  return o
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

async function measure (brokerName, scenario, rep, opts, pinned) {
  if (opts.quietWait > 0) await waitQuiet(opts)
  const job = {
    ...scenario.job(opts),
    name: scenario.id,
    host: '127.0.0.1',
    warmup: scenarioWarmup(scenario, opts),
    duration: opts.duration,
    payloadSize: opts.payload,
    tag: `${brokerName}-${rep}`
  }
  // the probe reports on the latency and throughput windows (the generator brackets them with SIGUSR2)
  const probe = BROKERS[brokerName].node && (job.kind === 'latency' ? opts.probe !== 'none' : opts.probe === 'all' && !!scenario.memory)
  let traceGc = null
  if (opts.traceGc && BROKERS[brokerName].node) {
    mkdirSync(join(opts.out, 'trace-gc'), { recursive: true })
    traceGc = join(opts.out, 'trace-gc', `${opts.stamp}-${scenario.id}-${brokerName}-${rep}${pinned ? '-pinned' : ''}.log`)
  }
  const broker = await BROKERS[brokerName].start({
    nodeBin: opts.node, needs: needsOf(job), cpus: pinned ? opts.pinBroker : null, probe, probeResolution: opts.eldResolution, traceGc,
    transport: scenario.transport
  })
  try {
    await sleep(200)
    Object.assign(job, { port: broker.port, brokerPid: broker.pid, probeFile: broker.probeFile })
    const gen = runGen(job, opts, pinned ? opts.pinGen : null)
    try {
      const r = await gen.result
      return { ...r, limits: broker.limits.raised }
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
  switch (scenario.kind ?? scenario.id) {
    case 'latency': {
      const probe = r.eldP99 === undefined ? ''
        : `; event loop p99 ${fmt(r.eldP99, 'ms')} max ${fmt(r.eldMax, 'ms')} ms, GC ${r.gcCount} pauses ${fmt(r.gcTotalMs, 'ms')} ms (max ${fmt(r.gcMaxMs, 'ms')}), ≥p99 during GC ${fmt(r.gcShareTail, '%')}`
      return `p50 ${fmt(r.p50, 'ms')} ms, p99 ${fmt(r.p99, 'ms')} ms, max ${fmt(r.max, 'ms')} ms (${r.samples} samples${probe}; ${cpu})`
    }
    case 'retained': return `${fmt(r.value, 'ms')} ms = ${fmt(r.ratePerS, 'msg/s')} msg/s (${cpu})`
    case 'conns': return `${fmt(r.value, 'conn/s')} conn/s, RSS ${fmt(r.rssPerConnKB, 'KB')} KB/conn (${r.rssBeforeKB}→${r.rssAfterKB} KB${r.rssIdleKB === undefined ? '' : `, idle ${fmt(r.rssPerConnIdleKB, 'KB')} KB/conn: →${r.rssIdleKB} KB`}, ${r.failed} failed; ${cpu})`
    default: return `${fmt(r.value, 'msg/s')} msg/s delivered, ${fmt(r.publishedPerS, 'msg/s')} published/s, lost ${r.lost}, RSS ${fmt(r.rssIdleKB / 1024, 'MB')} → ${fmt(r.rssMaxKB / 1024, 'MB')} MB (${cpu})`
  }
}

async function main () {
  const opts = parseArgs(process.argv.slice(2))
  cleanupOnSignals()
  const started = new Date()
  opts.stamp = started.toISOString().replace(/[:.]/g, '-')
  const t0 = Date.now()
  const clock = () => { const s = Math.round((Date.now() - t0) / 1000); return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}` }
  const extra = ['nodered', 'restart']
  const scenarios = SCENARIOS.filter(s => !opts.only || opts.only.includes(s.id))
  const wantNodeRed = opts.nodeRed && (!opts.only || opts.only.includes('nodered'))
  const wantRestart = opts.restart && (!opts.only || opts.only.includes('restart'))
  const unknown = (opts.only || []).filter(id => !extra.includes(id) && !SCENARIOS.some(s => s.id === id))
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
  const modes = opts.pin === 'also' ? [false, true] : opts.pin === 'only' ? [true] : [false]
  console.log(`machine: ${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}, mosquitto ${machine.mosquitto || '-'}, aedes ${machine.aedes}`)
  console.log(`plan: ${opts.repeats} repeat(s) × [${scenarios.map(s => s.id).join(', ')}] × [${brokers.join(', ')}]` +
    `${modes.includes(true) ? ` × ${modes.length === 2 ? 'free and ' : ''}pinned (broker taskset -c ${opts.pinBroker}, generator -c ${opts.pinGen})` : ''}, ` +
    `${opts.duration} s windows${wantRestart ? ', then restart' : ''}${wantNodeRed ? ', then Node-RED' : ''}`)

  const runs = []
  if (brokers.length && scenarios.length) {
    for (let rep = 1; rep <= opts.repeats; rep++) {
      for (const scenario of scenarios) {
        for (const pinned of modes) {
          // interleaved: A B C, A B C ...; the starting broker rotates with the repeat
          const order = brokers.map((_, i) => brokers[(i + rep - 1) % brokers.length])
            .filter(b => !scenario.transport || (BROKERS[b].transports ?? ['tcp']).includes(scenario.transport))
          for (const b of order) {
            const label = `${clock()} [${rep}/${opts.repeats}] ${scenario.id.padEnd(10)} ${b.padEnd(9)}${pinned ? ' pinned' : ''}`
            try {
              let r
              for (let attempt = 0; ; attempt++) {
                r = await measure(b, scenario, rep, opts, pinned)
                // another process took a real share of the machine during the window: measure again (twice at most)
                if (!isNoisy(r, opts) || attempt >= opts.retries) break
                console.log(`${label} noisy (${fmt(r.otherCpu, '%')} of a core taken by other processes), again: ${describe(scenario, r)}`)
              }
              r.noisy = isNoisy(r, opts)
              runs.push({ broker: b, scenario: scenario.id, rep, pinned, ...r })
              console.log(`${label} ${describe(scenario, r)}${r.noisy ? '  [NOISY]' : ''}`)
            } catch (err) {
              runs.push({ broker: b, scenario: scenario.id, rep, pinned, error: err.message })
              console.log(`${label} FAILED: ${err.message.split('\n').slice(0, 6).join('\n    ')}`)
            }
          }
        }
      }
    }
  }

  let restart = null
  if (wantRestart) {
    const rb = RESTART_BROKERS.filter(b => brokers.includes(b))
    if (rb.length) {
      restart = await runRestartBench({
        brokers: rb, repeats: opts.repeats, retained: opts.restartRetained, sessions: opts.restartSessions, nodeBin: opts.node, log: s => console.log(`${clock()} ${s}`)
      })
    }
  }
  let nodeRed = null
  if (wantNodeRed) {
    const { runNodeRedBench } = await import('./node-red.mjs')
    nodeRed = await runNodeRedBench({ quick: opts.quick, repeats: opts.repeats, log: s => console.log(`${clock()} ${s}`) })
  }

  const S = summarizeRuns(runs, scenarios, brokers, opts)
  const finished = new Date()
  const failures = runs.filter(r => r.error)
  const restartFailed = restart ? Object.entries(restart.json.results).filter(([, r]) => r.error).map(([b]) => `restart/${b}`) : []
  let md = `## Hearth benchmark — ${finished.toISOString()}\n\n${machineTable(machine)}\n\n`
  md += `${opts.repeats} interleaved repeat(s), ${opts.warmup} s warm-up + ${opts.duration} s measured per run, payload ${opts.payload} B, MQTT 3.1.1, everything on 127.0.0.1` +
    `${modes.includes(true) ? `; pinned rows: broker on core ${opts.pinBroker}, generator on ${opts.pinGen}` : ''}. ` +
    'Medians (min–max over repeats); ratios are of medians; ↑ higher is better, ↓ lower is better.\n\n'
  md += `### The rows of issue 12\n\n${headline(S, { restart, nodeRed }, opts)}\n\n`
  if (brokers.length && scenarios.length) md += detailMarkdown(S, brokers, opts)
  if (restart) md += `${restart.markdown}\n\n`
  if (Object.keys(skipped).length) md += `Skipped brokers: ${Object.entries(skipped).map(([k, v]) => `${k} (${v})`).join(', ')}\n\n`
  if (failures.length || restartFailed.length) {
    md += `Failed runs: ${[...failures.map(f => `${f.scenario}/${f.broker}${f.pinned ? '/pinned' : ''}#${f.rep}`), ...restartFailed].join(', ')}\n\n`
  }
  if (nodeRed) md += `${nodeRed.markdown}\n\n`
  md += `Took ${((finished - started) / 1000).toFixed(0)} s.\n`

  console.log(`\n${md}`)
  mkdirSync(opts.out, { recursive: true })
  const json = { started: started.toISOString(), finished: finished.toISOString(), machine, options: opts, brokers, skipped, summary: S, runs, restart: restart && restart.json, nodeRed: nodeRed && nodeRed.json }
  for (const name of [`bench-${opts.stamp}`, 'latest']) {
    writeFileSync(join(opts.out, `${name}.json`), JSON.stringify(json, null, 2))
    writeFileSync(join(opts.out, `${name}.md`), md)
  }
  console.log(`results: ${join(opts.out, `bench-${opts.stamp}.json`)} (+ .md, latest.*)`)
  if (failures.length || restartFailed.length) process.exitCode = 1
}

main().catch(err => {
  console.error(err.stack || err)
  process.exit(1)
})
