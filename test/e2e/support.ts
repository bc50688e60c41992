// End-to-end support: pack Hearth with npm, install the tarball into a fresh Node-RED userDir as the
// palette manager does, run Node-RED as a real process, and drive it through the admin API.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import https from 'node:https'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import WebSocket from 'ws'
import { pollUntil } from '../helpers/wait'

const run = promisify(execFile)
export const root = path.join(__dirname, '..', '..')

/** The Node-RED runtimes the package is tested on. */
export interface Runtime { name: string, node: string, redJs: string }
export const RUNTIMES: Runtime[] = [
  { name: 'Node-RED 4.1 on Node 20', node: process.env.HEARTH_SYSTEM_NODE ?? '/usr/bin/node', redJs: path.join(root, 'node_modules/node-red-4/red.js') },
  { name: 'Node-RED 5 on Node 22', node: path.join(root, 'node_modules/node/bin/node'), redJs: path.join(root, 'node_modules/node-red/red.js') },
]

export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export function tempDir (prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** `npm pack` the repo (already built by `npm run build`) into `dir`; returns the tarball path. */
export async function packTarball (dir: string): Promise<string> {
  for (const f of ['nodes/hearth-broker.js', 'dist/broker/index.js']) {
    if (!existsSync(path.join(root, f))) throw new Error(`${f} is missing: run npm run build first`)
  }
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root, maxBuffer: 16 << 20 })
  const [info] = JSON.parse(stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  return path.join(dir, info.filename)
}

/** A fresh userDir with the tarball installed by `npm install`, as Node-RED's palette manager does. */
export async function makeUserDir (tarball: string): Promise<string> {
  const userDir = tempDir('hearth-e2e-')
  writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true, version: '0.0.1' }))
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-update-notifier', tarball], { cwd: userDir, maxBuffer: 16 << 20 })
  return userDir
}

export interface NodeRed {
  port: number
  /** The CA of Node-RED's certificate when it runs with `https`. */
  ca?: string
  proc: ChildProcess
  /** Every line Node-RED printed. */
  log: string[]
  /** Milliseconds from spawn to "Started flows". */
  startupMs: number
  url (p: string): string
  stop (): Promise<void>
}

/**
 * Start Node-RED with settings for tests: loopback only, no online catalogue, a fixed credential
 * secret; `extra` adds settings (e.g. `https: {key, cert}`, with `ca` for the test's own requests).
 */
export async function startNodeRed (rt: Runtime, userDir: string, extra: Record<string, unknown> = {}, ca?: string): Promise<NodeRed> {
  const port = await freePort()
  const settings = path.join(userDir, 'settings.js')
  writeFileSync(settings, `module.exports = ${JSON.stringify({
    uiHost: '127.0.0.1',
    uiPort: port,
    flowFile: 'flows.json',
    credentialSecret: 'hearth-e2e',
    editorTheme: { palette: { catalogues: [] }, tours: false },
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
    logging: { console: { level: 'info', metrics: false, audit: false } },
    ...extra,
  })}\n`)
  const started = Date.now()
  const proc = spawn(rt.node, [rt.redJs, '--settings', settings, '--userDir', userDir], { cwd: userDir, env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] })
  const log: string[] = []
  const onData = (chunk: Buffer): void => { log.push(...chunk.toString().split('\n').filter((l) => l.trim() !== '')) }
  proc.stdout?.on('data', onData)
  proc.stderr?.on('data', onData)
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  const deadline = Date.now() + 60000
  // red.js starts listening for HTTP only after the flows have started: wait for both lines.
  while (!log.some((l) => l.includes('Started flows')) || !log.some((l) => l.includes('Server now running'))) {
    if (proc.exitCode !== null) throw new Error(`Node-RED exited with ${proc.exitCode}:\n${log.join('\n')}`)
    if (Date.now() > deadline) throw new Error(`Node-RED did not start:\n${log.join('\n')}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const startupMs = Date.now() - started
  const scheme = extra.https !== undefined ? 'https' : 'http'
  return {
    port,
    ca,
    proc,
    log,
    startupMs,
    url: (p: string) => `${scheme}://127.0.0.1:${port}${p}`,
    async stop () {
      if (proc.exitCode !== null) return
      proc.kill('SIGINT')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** An admin API request (http, or https trusting red.ca); resolves with the status and the body text. */
export function adminRequest (red: NodeRed, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, text: string }> {
  const url = new URL(red.url(p))
  const data = body === undefined ? undefined : JSON.stringify(body)
  const options = {
    method,
    headers: { ...(data !== undefined ? { 'content-type': 'application/json' } : {}), accept: 'application/json', ...headers },
    ...(red.ca !== undefined ? { ca: red.ca } : {}),
  }
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(data)
  })
}

/** POST /flows with a full deploy; resolves when Node-RED has started the new flows. */
export async function deploy (red: NodeRed, flows: object[]): Promise<void> {
  const before = red.log.filter((l) => l.includes('Started flows')).length
  const res = await adminRequest(red, 'POST', '/flows', flows, { 'Node-RED-Deployment-Type': 'full', 'Node-RED-API-Version': 'v1' })
  if (res.status !== 204 && res.status !== 200) throw new Error(`POST /flows: ${res.status} ${res.text}`)
  await waitFor(() => red.log.filter((l) => l.includes('Started flows')).length > before, 20000, 'flows to start')
}

export function waitFor<T> (check: () => T | undefined | false | null, ms = 5000, what = 'condition'): Promise<T> {
  return pollUntil(check, ms, what)
}

/** Resident set size of a process, in MiB (Linux). */
export function rssMiB (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return Math.round(kb / 1024)
}

/** Error and warning lines Node-RED logged (from index `from` on). */
export function problems (red: NodeRed, from = 0): string[] {
  return red.log.slice(from).filter((l) => /\[(error|warn)\]/.test(l))
}

export function removeDir (dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true })
}

/** The retained status of node `nodeId`, through the editor's own /comms WebSocket (which proves it still connects). */
export async function statusOverComms (red: NodeRed, nodeId: string, ca?: string): Promise<Record<string, unknown>> {
  const ws = new WebSocket(red.url('/comms').replace(/^http/, 'ws'), ca !== undefined ? { ca } : {})
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no status on /comms')), 10000)
      ws.once('error', reject)
      ws.once('open', () => ws.send(JSON.stringify({ subscribe: `status/${nodeId}` })))
      ws.on('message', (data) => {
        for (const m of JSON.parse(String(data)) as Array<{ topic: string, data: Record<string, unknown> }>) {
          if (m.topic === `status/${nodeId}`) { clearTimeout(timer); resolve(m.data) }
        }
      })
    })
  } finally {
    ws.terminate()
  }
}

/**
 * The ports broker node `nodeId` bound, in the order of its listeners, read from its status (":1883 :8883
 * /mqtt · 2 clients"). Flows that ask for port 0 leave no moment in which another process could take the
 * port between choosing and binding it.
 */
export async function boundPorts (red: NodeRed, nodeId: string, ca?: string): Promise<number[]> {
  const deadline = Date.now() + 15000
  for (;;) {
    const text = String((await statusOverComms(red, nodeId, ca)).text ?? '')
    if (/ · \d+ clients?( · open)?$/.test(text)) return [...text.matchAll(/:(\d+)/g)].map((m) => Number(m[1]))
    if (Date.now() > deadline) throw new Error(`no listening status for ${nodeId}: "${text}"`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
