// A real Mosquitto (Debian's /usr/sbin/mosquitto) for the external-connection tests: one process
// with three listeners on free ports (plain anonymous, TLS anonymous with test certificates made by
// openssl, plain with a password file and an ACL), a config written to a temp dir; stop/start keeps
// the ports, so a client can watch it go away and come back. Also a TCP proxy that can cut or stall
// the link, and mosquitto_sub as an independent observer.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCerts, type TestCerts } from '../listeners/certs'

const MOSQUITTO = '/usr/sbin/mosquitto'
const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub'
const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd'
export const HOST = '127.0.0.1'

function requireFile (path: string, pkg: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: install the Debian package ${pkg}`)
}

async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function portOpen (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ port, host: HOST })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { s.destroy(); resolve(false) })
  })
}

/** The account on the password listener, and what its ACL lets it do. */
export const ACCOUNT = { username: 'node', password: 's3cret pw' }

export class Mosquitto {
  private proc: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  log = ''

  private constructor (readonly dir: string, readonly certs: TestCerts, readonly ports: { tcp: number, tls: number, auth: number }) {}

  /** Start Mosquitto; certificates and config go to a temp dir that `remove()` deletes. */
  static async start (): Promise<Mosquitto> {
    requireFile(MOSQUITTO, 'mosquitto')
    requireFile(MOSQUITTO_PASSWD, 'mosquitto')
    const dir = mkdtempSync(join(tmpdir(), 'hearth-mosquitto-'))
    const certs = makeCerts()
    const ports = { tcp: await freePort(), tls: await freePort(), auth: await freePort() }
    const m = new Mosquitto(dir, certs, ports)
    const pw = join(dir, 'passwords')
    const r = spawnSync(MOSQUITTO_PASSWD, ['-c', '-b', pw, ACCOUNT.username, ACCOUNT.password], { encoding: 'utf8', timeout: 20000 })
    if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`)
    writeFileSync(join(dir, 'acl'), `user ${ACCOUNT.username}\ntopic readwrite open/#\ntopic read secret/#\n`)
    writeFileSync(join(dir, 'mosquitto.conf'), [
      'per_listener_settings true',
      'persistence false',
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      'log_type notice',
      // No limit on what waits for a slow subscriber: the tests count every message.
      'max_queued_messages 0',
      `listener ${ports.tcp} ${HOST}`,
      'allow_anonymous true',
      `listener ${ports.tls} ${HOST}`,
      'allow_anonymous true',
      `cafile ${certs.caCert}`,
      `certfile ${certs.serverCert}`,
      `keyfile ${certs.serverKey}`,
      `listener ${ports.auth} ${HOST}`,
      'allow_anonymous false',
      `password_file ${pw}`,
      `acl_file ${join(dir, 'acl')}`,
      '',
    ].join('\n'))
    // Mosquitto started as root reads its files after dropping to the "mosquitto" user.
    for (const d of [dir, certs.dir]) {
      chmodSync(d, 0o755)
      for (const f of readdirSync(d)) chmodSync(join(d, f), 0o644)
    }
    await m.startProcess()
    return m
  }

  get running (): boolean { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null }

  async startProcess (): Promise<void> {
    const proc = spawn(MOSQUITTO, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc = proc
    proc.stdout?.on('data', (d: Buffer) => { this.log += d.toString() })
    proc.stderr?.on('data', (d: Buffer) => { this.log += d.toString() })
    this.exited = new Promise((resolve) => proc.once('close', () => resolve()))
    for (const port of Object.values(this.ports)) {
      const end = Date.now() + 10000
      while (!(await portOpen(port))) {
        if (proc.exitCode !== null) throw new Error(`mosquitto exited (${String(proc.exitCode)}):\n${this.log}`)
        if (Date.now() > end) throw new Error(`mosquitto is not listening on ${port}:\n${this.log}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }

  /** Stop the process (SIGTERM, SIGKILL after 5 s); startProcess() brings it back on the same ports. */
  async stop (): Promise<void> {
    const proc = this.proc
    if (!proc || !this.running) return
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
    await this.exited
    clearTimeout(timer)
  }

  async remove (): Promise<void> {
    await this.stop()
    rmSync(this.dir, { recursive: true, force: true })
    this.certs.remove()
  }
}

/**
 * A TCP proxy in front of a port: `cut()` drops every link at once (the broker sees the client
 * vanish, as when a cable is pulled), `stall()` stops reading from the client (a slow broker).
 */
export class TcpProxy {
  private readonly pairs = new Set<{ a: net.Socket, b: net.Socket }>()
  private stalled = false
  accepting = true
  /** When each connection attempt came in (ms since the epoch). */
  readonly attempts: number[] = []

  private constructor (private readonly server: net.Server, readonly port: number, readonly target: number) {}

  static async open (target: number): Promise<TcpProxy> {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve))
    const proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port, target)
    server.on('connection', (a) => proxy.link(a))
    return proxy
  }

  private link (a: net.Socket): void {
    this.attempts.push(Date.now())
    if (!this.accepting) { a.destroy(); return }
    const b = net.createConnection({ port: this.target, host: HOST })
    const pair = { a, b }
    this.pairs.add(pair)
    const end = (): void => { a.destroy(); b.destroy(); this.pairs.delete(pair) }
    a.on('error', end)
    b.on('error', end)
    a.on('close', end)
    b.on('close', end)
    a.pipe(b)
    b.pipe(a)
    if (this.stalled) a.pause()
  }

  get links (): number { return this.pairs.size }

  cut (): void {
    for (const { a, b } of [...this.pairs]) { a.destroy(); b.destroy() }
    this.pairs.clear()
  }

  stall (): void {
    this.stalled = true
    for (const { a } of this.pairs) { a.unpipe(); a.pause() }
  }

  resume (): void {
    this.stalled = false
    for (const { a, b } of this.pairs) { a.pipe(b); a.resume() }
  }

  async close (): Promise<void> {
    this.accepting = false
    this.cut()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** mosquitto_sub -v on `topics`: every `topic payload` line it prints, until stop(). */
export class MosquittoSub {
  readonly lines: string[] = []
  private readonly proc: ChildProcess
  private readonly exited: Promise<void>
  private partial = ''
  err = ''

  constructor (port: number, topics: string[], extra: string[] = []) {
    requireFile(MOSQUITTO_SUB, 'mosquitto-clients')
    // hearth/ready/# too: ready() sees its marker there.
    const args = ['-h', HOST, '-p', String(port), '-v', '-q', '1', ...[...topics, 'hearth/ready/#'].flatMap((t) => ['-t', t]), ...extra]
    this.proc = spawn(MOSQUITTO_SUB, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.proc.stdout?.on('data', (d: Buffer) => {
      const text = this.partial + d.toString()
      const parts = text.split('\n')
      this.partial = parts.pop() ?? ''
      this.lines.push(...parts)
    })
    this.proc.stderr?.on('data', (d: Buffer) => { this.err += d.toString() })
    this.exited = new Promise((resolve) => this.proc.once('close', () => resolve()))
  }

  /** Wait until mosquitto_sub has subscribed: a retained marker it publishes to itself is seen. */
  async ready (port: number, marker = `hearth/ready/${Math.random().toString(36).slice(2)}`): Promise<void> {
    const pub = '/usr/bin/mosquitto_pub'
    requireFile(pub, 'mosquitto-clients')
    const end = Date.now() + 10000
    while (!this.lines.some((l) => l.startsWith(marker))) {
      spawnSync(pub, ['-h', HOST, '-p', String(port), '-t', marker, '-m', 'x'], { timeout: 5000 })
      if (Date.now() > end) throw new Error(`mosquitto_sub did not start: ${this.err}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  async stop (): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM')
    await this.exited
  }
}
