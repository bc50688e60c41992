// /proc readers and machine facts.
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import os from 'node:os'

export const CLK_TCK = 100 // USER_HZ on Linux

// utime + stime of a whole process (all threads), in seconds.
export function cpuSeconds (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // after "pid (comm) ": state=f[0], ... utime=f[11], stime=f[12]
  return (Number(f[11]) + Number(f[12])) / CLK_TCK
}

// Busy CPU seconds of the whole machine (all cores) from /proc/stat: everything but idle and iowait.
export function systemBusySeconds () {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
  const f = line.split(/\s+/).slice(1).map(Number)
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0) // user nice system idle iowait irq softirq steal
  return (total - f[3] - f[4]) / CLK_TCK
}

// Resident set size in KB (VmRSS from /proc/<pid>/status).
export function rssKB (pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m ? Number(m[1]) : NaN
}

function tryExec (cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 }).trim()
  } catch (err) {
    return (err.stdout || '').trim() || null
  }
}

export function machineInfo ({ mosquittoBin, nodeBin }) {
  let cpuModel = os.cpus()[0]?.model || 'unknown'
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) cpuModel = m[1].trim()
  } catch {}
  const mosq = mosquittoBin ? tryExec(mosquittoBin, ['-h']) : null
  const mosqVersion = mosq ? (/mosquitto version (\S+)/.exec(mosq) || [])[1] || null : null
  return {
    cpuModel,
    cores: os.cpus().length,
    memoryMB: Math.round(os.totalmem() / 1048576),
    kernel: `${os.type()} ${os.release()}`,
    node: tryExec(nodeBin, ['--version']),
    mosquitto: mosqVersion,
    aedes: readJson(new URL('../../node_modules/aedes/package.json', import.meta.url))?.version || null,
    nodeRed: readJson(new URL('../../node_modules/node-red/package.json', import.meta.url))?.version || null,
    hearthCommit: tryExec('git', ['-C', new URL('../..', import.meta.url).pathname, 'rev-parse', '--short', 'HEAD']),
    hostname: os.hostname()
  }
}

function readJson (url) {
  try { return JSON.parse(readFileSync(url, 'utf8')) } catch { return null }
}
