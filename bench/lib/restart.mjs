// The restart scenario: a broker with large state on disk starts again. For Hearth (--persistence-dir, sync always)
// and Mosquitto (persistence true, autosave_interval 1800; it saves its database when it stops): write
// `retained` retained topics and `sessions` offline persistent sessions (5 subscriptions and 10 queued QoS 1
// messages each) through MQTT, stop cleanly (SIGTERM), then start again on the same folder `repeats` times:
//   ready     spawn → Hearth's listening line / Mosquitto's first accepted TCP connection
//   connack   spawn → the first CONNACK (a new client connecting as soon as the broker is ready): the figure compared
//   rss       VmRSS 1 s after ready
// and check the state came back (a session's queued messages, the first and last retained topics).
// An empty start (same persistence settings, nothing stored) is the baseline. Aedes keeps its state in memory here: no row.
import { mkdtempSync, rmSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BROKERS } from './brokers.mjs'
import { track } from './cleanup.mjs'
import { needsOf, describeRaised } from './limits.mjs'
import { rssKB } from './proc.mjs'
import { summarize, cell, fmt } from './report.mjs'
import { Client, populate, stateJob, verifyState } from './state.mjs'

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const nowMs = () => Number(process.hrtime.bigint()) / 1e6
export const RESTART_BROKERS = ['hearth', 'mosquitto']
const PAYLOAD = Buffer.alloc(64, 0x61)

function dirBytes (dir) {
  let n = 0
  for (const f of readdirSync(dir)) {
    const s = statSync(join(dir, f))
    n += s.isDirectory() ? dirBytes(join(dir, f)) : s.size
  }
  return n
}

// One start on `dir`: ready and first-CONNACK times, RSS a second later.
async function startOnce (name, ctx, dir, verify) {
  const b = await BROKERS[name].start({ ...ctx, persistenceDir: dir })
  const result = await (async () => {
    const c = await Client.connect(b.port, { clientId: `restart-probe-${Date.now()}`, clean: true })
    const connackMs = nowMs() - b.spawnedAt
    await c.end()
    await sleep(1000)
    const rss = rssKB(b.pid)
    if (verify) await verify(b.port)
    return { readyMs: b.readyMs, connackMs, rssKB: rss, raised: b.limits.raised }
  })().catch(err => err)
  await stopCleanly(b, name)
  if (result instanceof Error) throw result
  return result
}

// SIGTERM, so the broker saves its state; anything but exit code 0 fails the scenario.
async function stopCleanly (b, name) {
  const t = await b.terminate()
  if (t.code !== 0) throw new Error(`${name} exited with ${t.code ?? t.signal} on SIGTERM\n${b.tail()}`)
  return t
}

export async function runRestartBench ({ brokers, repeats, retained, sessions, nodeBin, log = console.log }) {
  const job = stateJob({ retained, sessions, payloadBytes: PAYLOAD.length })
  const ctx = { nodeBin, needs: needsOf(job), cpus: null, probe: false }
  const results = {}
  for (const name of brokers) {
    const tmp = mkdtempSync(join(tmpdir(), `hearth-bench-restart-${name}-`))
    const untrack = track({ dir: tmp })
    const r = results[name] = { empty: null, restarts: [], error: null }
    try {
      r.empty = await startOnce(name, ctx, join(tmp, 'empty'), null)
      log(`restart ${name.padEnd(9)} empty: connack after ${fmt(r.empty.connackMs, 'ms')} ms, RSS ${fmt(r.empty.rssKB / 1024, 'MB')} MB`)
      const store = join(tmp, 'big')
      const w = await BROKERS[name].start({ ...ctx, persistenceDir: store })
      const t0 = nowMs()
      const written = await populate(w.port, { retained, sessions, payload: PAYLOAD }).catch(err => err)
      r.writeMs = nowMs() - t0
      try { r.writerRssKB = rssKB(w.pid) } catch {}
      r.stopMs = (await stopCleanly(w, name)).ms
      if (written instanceof Error) throw written
      r.bytes = dirBytes(store)
      log(`restart ${name.padEnd(9)} wrote ${retained} retained + ${sessions} sessions in ${fmt(r.writeMs, 'ms')} ms, stop ${fmt(r.stopMs, 'ms')} ms, ${fmt(r.bytes / 1048576, 'MB')} MB on disk`)
      for (let i = 0; i < repeats; i++) {
        const one = await startOnce(name, ctx, store, port => verifyState(port, { retained, i: 7 + i }))
        r.restarts.push(one)
        log(`restart ${name.padEnd(9)} [${i + 1}/${repeats}] ready ${fmt(one.readyMs, 'ms')} ms, connack ${fmt(one.connackMs, 'ms')} ms, RSS ${fmt(one.rssKB / 1024, 'MB')} MB (state checked)`)
      }
      r.raised = r.restarts[0]?.raised || r.empty.raised
    } catch (err) {
      r.error = err.message
      log(`restart ${name} FAILED: ${err.message.split('\n')[0]}`)
    } finally {
      rmSync(tmp, { recursive: true, force: true })
      untrack()
    }
  }
  const summary = {}
  for (const name of brokers) {
    const rs = results[name].restarts
    summary[name] = {
      connack: summarize(rs.map(x => x.connackMs)),
      ready: summarize(rs.map(x => x.readyMs)),
      rss: summarize(rs.map(x => x.rssKB / 1024)),
      emptyConnack: results[name].empty?.connackMs,
      emptyRss: results[name].empty ? results[name].empty.rssKB / 1024 : NaN
    }
  }
  let md = `### Restart with ${retained.toLocaleString('en-US')} retained topics + ${sessions.toLocaleString('en-US')} persistent sessions\n\n`
  md += 'Each session: 5 subscriptions and 10 queued QoS 1 messages; 64-byte payloads. Hearth: `--persistence-dir` (sync always); ' +
    'Mosquitto: `persistence true`, `autosave_interval 1800` (saved at SIGTERM). Times from spawn; RSS 1 s after ready; ' +
    `${repeats} restart(s), median (min–max). Aedes keeps its state in memory here (no row).\n\n`
  md += '| broker | spawn → first CONNACK, ms | spawn → ready, ms | RSS, MB | empty: CONNACK ms / RSS MB | state on disk, MB | limits raised |\n|---|---:|---:|---:|---:|---:|---|\n'
  for (const name of brokers) {
    const r = results[name]
    const s = summary[name]
    if (r.error) { md += `| ${name} | failed: ${r.error.split('\n')[0].replace(/\|/g, '/')} | | | | | |\n`; continue }
    md += `| ${name} | ${cell(s.connack, 'ms')} | ${cell(s.ready, 'ms')} | ${cell(s.rss, 'MB')} | ${fmt(s.emptyConnack, 'ms')} / ${fmt(s.emptyRss, 'MB')} | ${fmt(r.bytes / 1048576, 'MB')} | ${describeRaised(r.raised || [])} |\n`
  }
  md += '\n"ready": Hearth prints its listening line once the state is loaded; Mosquitto is ready when it accepts a TCP connection.'
  return { json: { retained, sessions, repeats, results, summary }, markdown: md, summary }
}
