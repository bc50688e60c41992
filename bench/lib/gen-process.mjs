// The load generator (bench/gen/gen.mjs) as a child process: runGen(job, opts, cpus) sends it the job and
// resolves `result` with its figures; `end()` lets it close its connections and exit.
import { fileURLToPath } from 'node:url'
import { spawnWithFds } from './brokers.mjs'
import { track } from './cleanup.mjs'

const GEN = fileURLToPath(new URL('../gen/gen.mjs', import.meta.url))

// opts.node: the Node binary; cpus: a taskset list or null
export function runGen (job, opts, cpus) {
  const gen = spawnWithFds(opts.node, [GEN], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }, cpus)
  const untrack = track({ child: gen })
  gen.once('exit', untrack)
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
