// The Hearth CLI as a child process for the single-broker benchmarks (persistence.mjs, amplification.mjs):
// started on a free loopback port with a config file, ready once it prints its listening line.
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'

const LINE = /hearth-broker listening on mqtt:\/\/127\.0\.0\.1:(\d+)/

/**
 * Start `bin` (bin/hearth-broker.js of some checkout) with `--config config` and `args`; resolves with the child,
 * its port, the milliseconds to its listening line, its output and stop() (SIGTERM, SIGKILL after `killAfterMs`;
 * an exit code other than 0 is an error).
 */
export async function startCliBroker ({ bin, config, args = [], cwd, killAfterMs = 30000 }) {
  const t0 = performance.now()
  const child = spawn(process.execPath, [bin, '--port', '0', '--host', '127.0.0.1', '--config', config, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const exited = new Promise(resolve => child.once('exit', code => resolve(code)))
  child.stderr.on('data', d => { out += d })
  const port = await new Promise((resolve, reject) => {
    const onData = d => {
      out += d
      const m = LINE.exec(out)
      if (m) { child.stdout.off('data', onData); resolve(Number(m[1])) }
    }
    child.stdout.on('data', onData)
    exited.then(code => reject(new Error(`broker exited with ${code}: ${out}`)))
  })
  const startMs = performance.now() - t0
  return {
    child,
    port,
    startMs,
    output: () => out,
    async stop () {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
      const code = await exited
      clearTimeout(timer)
      if (code !== 0) throw new Error(`broker exited with ${code} on SIGTERM: ${out}`)
    },
  }
}
