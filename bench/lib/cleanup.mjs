// Nothing outlives an interrupted benchmark: every child process (broker, generator, Node-RED) and temporary folder
// is registered while it lives, and SIGINT/SIGTERM/SIGHUP to the orchestrator kills and removes what is left.
import { rmSync } from 'node:fs'

const live = new Set()

// entry: { child?: ChildProcess, dir?: string }; returns the function that forgets it (call it once it is cleaned up).
export function track (entry) {
  live.add(entry)
  return () => live.delete(entry)
}

function cleanupAll () {
  for (const e of live) {
    try { if (e.child && e.child.exitCode === null && e.child.signalCode === null) e.child.kill('SIGKILL') } catch {}
    try { if (e.dir) rmSync(e.dir, { recursive: true, force: true }) } catch {}
  }
  live.clear()
}

let installed = false
export function cleanupOnSignals () {
  if (installed) return
  installed = true
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping every broker, generator and Node-RED, removing temporary folders`)
      cleanupAll()
      process.exit(code)
    })
  }
}
