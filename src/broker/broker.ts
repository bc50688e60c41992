/*
 * The public broker: createBroker(options) gives a Broker that serves any duplex stream,
 * listens on TCP, accepts in-process clients and exposes events, statistics and admin commands.
 */
import net from 'node:net'
import type { Duplex } from 'node:stream'
import { BrokerCore } from './core'
import { restoreState } from './restore'
import { Connection } from './connection'
import { LocalClient, DEFAULT_LOCAL_RECEIVE_MAXIMUM } from './local-client'
import { runConnect, activate, NEVER_EXPIRES, type ConnectContext } from './connect-actions'
import { RC, reasonError } from './errors'
import { validTopicFilter } from './topics'
import { MetricsService, type BrokerMetrics } from './metrics'
import type { BrokerEvents, BrokerOptions, BrokerStats, ClientInfo, LocalConnectOptions, Message, PeerInfo, PublishObserver } from './types'

export interface ListenOptions { port?: number, host?: string }
export interface ListenResult { port: number, host: string, server: net.Server }

export class Broker {
  /** Resolves once persistence is loaded; rejects if it cannot be opened. */
  readonly ready: Promise<void>
  private readonly core: BrokerCore
  private readonly figures: MetricsService
  private readonly servers = new Set<net.Server>()
  private readonly connections = new Set<Duplex>()
  private isReady = false
  private closed: Promise<void> | undefined

  constructor (options: BrokerOptions = {}) {
    this.core = new BrokerCore(options)
    this.figures = new MetricsService(this.core)
    this.ready = this.core.persistence.open().then(state => {
      restoreState(this.core, state)
      this.core.startTimer()
      this.isReady = true
      if (!this.core.closing) this.figures.start()
    })
    this.ready.catch(() => { /* reported to whoever awaits ready, listen or connectLocal */ })
  }

  on<K extends keyof BrokerEvents> (event: K, listener: (...args: BrokerEvents[K]) => void): this {
    this.core.events.on(event, listener as (...args: unknown[]) => void)
    return this
  }

  once<K extends keyof BrokerEvents> (event: K, listener: (...args: BrokerEvents[K]) => void): this {
    this.core.events.once(event, listener as (...args: unknown[]) => void)
    return this
  }

  off<K extends keyof BrokerEvents> (event: K, listener: (...args: BrokerEvents[K]) => void): this {
    this.core.events.off(event, listener as (...args: unknown[]) => void)
    return this
  }

  /**
   * Serve one MQTT connection over any duplex stream (TCP, TLS, WebSocket). `peer` tells who is on
   * the other end when the stream cannot (a WebSocket, a proxied connection).
   */
  handle (stream: Duplex, peer?: PeerInfo): void {
    if (this.core.closing) { stream.destroy(); return }
    if (this.isReady) { this.start(stream, peer); return }
    stream.on('error', ignoreError) // until the connection takes over
    this.ready.then(() => { stream.off('error', ignoreError); this.start(stream, peer) }, () => stream.destroy())
  }

  private start (stream: Duplex, peer: PeerInfo | undefined): void {
    if (this.core.closing || stream.destroyed) { stream.destroy(); return }
    this.connections.add(stream)
    ;(stream as Tracked)[TRACKED] = this.connections
    stream.on('close', onTrackedClose) // a shared listener, not a closure per connection

    new Connection(this.core, stream, peer)
  }

  /** Listen for MQTT over TCP. Resolves with the bound address; rejects (never throws) on e.g. EADDRINUSE. */
  async listen (options: ListenOptions = {}): Promise<ListenResult> {
    await this.ready
    if (this.core.closing) throw new Error('broker is closed')
    const server = net.createServer({ noDelay: true }, socket => this.handle(socket))
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => { server.off('listening', onListening); reject(err) }
      const onListening = (): void => { server.off('error', onError); resolve() }
      server.once('error', onError)
      server.once('listening', onListening)
      server.listen(options.port ?? 1883, options.host)
    })
    server.on('error', err => this.core.warn(`listener error: ${err.message}`, undefined, err))
    this.servers.add(server)
    const addr = server.address() as net.AddressInfo
    return { port: addr.port, host: addr.address, server }
  }

  /** Connect an in-process client. Rejects with an Error carrying `reasonCode` when refused. */
  async connectLocal (options: LocalConnectOptions = {}): Promise<LocalClient> {
    await this.ready
    const core = this.core
    const client = new LocalClient(core)
    const ep = client.endpoint
    const v = options.protocolVersion ?? 5
    ep.protocolVersion = v
    if (options.manualAck === true) {
      const rm = options.receiveMaximum ?? DEFAULT_LOCAL_RECEIVE_MAXIMUM
      if (!Number.isInteger(rm) || rm < 1 || rm > 65535) throw new RangeError(`receiveMaximum must be an integer from 1 to 65535, got ${rm}`)
      ep.manualAck = true
      ep.sendQuota = rm
    }
    const clean = options.clean !== false
    const ctx: ConnectContext = {
      core,
      client: ep,
      params: {
        clientId: options.clientId ?? '',
        clean,
        keepalive: options.keepalive ?? 0,
        username: options.username,
        password: options.password === undefined ? undefined : Buffer.from(options.password),
        will: options.will,
        sessionExpiryInterval: v === 5 ? (options.sessionExpiryInterval ?? (clean ? 0 : NEVER_EXPIRES)) : (clean ? 0 : NEVER_EXPIRES),
      },
      sessionPresent: false,
    }
    const rc = await runConnect(ctx)
    if (rc !== RC.SUCCESS) throw reasonError(rc, `connection refused: 0x${rc.toString(16)}`)
    client.sessionPresent = ctx.sessionPresent
    // Deliver what the session holds once the caller has had a chance to add its listeners.
    if (ep.manualAck) { ep.resumed = false; setImmediate(() => { ep.resumed = true }) } // runs before activate's resume
    activate(core, ep, true)
    return client
  }

  /** Publish as the broker itself. */
  async publish (msg: Message): Promise<void> {
    await this.ready
    if (!this.core.validTopic(msg.topic)) throw reasonError(RC.TOPIC_NAME_INVALID, `invalid topic name '${msg.topic}'`)
    const m: Message = { ...msg, payload: Buffer.isBuffer(msg.payload) ? msg.payload : Buffer.from(msg.payload) }
    if (!this.core.retainedFits(m)) throw reasonError(RC.QUOTA_EXCEEDED, 'the retained message limits are reached')
    const rc = this.core.accept(m, undefined, undefined)
    if (rc >= 0x80) throw reasonError(rc, 'the retained message was refused: the persistent store is full')
    await this.core.persistence.sync()
  }

  clients (): ClientInfo[] {
    return [...this.core.clients.values()].filter(c => c.active).map(c => c.info())
  }

  /**
   * Watch every message the broker accepts (see PublishObserver), for a monitor; returns the
   * function that stops watching. An observer that throws is reported as a 'warning'.
   */
  observe (observer: PublishObserver): () => void {
    const core = this.core
    core.observers = [...core.observers, observer]
    let watching = true
    return () => {
      if (!watching) return
      watching = false
      const i = core.observers.indexOf(observer) // one entry per call, even for the same function
      core.observers = core.observers.filter((_, j) => j !== i)
    }
  }

  /** Disconnect a client (MQTT 5 reason 0x98 Administrative action by default). */
  disconnectClient (clientId: string, reasonCode: number = RC.ADMINISTRATIVE_ACTION): boolean {
    const c = this.core.clients.get(clientId)
    if (c === undefined) return false
    c.disconnect(reasonCode, 'disconnected by the administrator')
    return true
  }

  /** Retained messages whose topic matches `filter`. */
  retained (filter = '#'): Message[] {
    if (!validTopicFilter(filter)) throw new RangeError(`invalid topic filter '${filter}'`)
    return this.core.matchRetained(filter).map(m => ({ topic: m.topic, payload: m.payload, qos: m.qos, retain: true, properties: m.properties }))
  }

  /** Delete the retained messages whose topic matches `filter`; returns how many. */
  clearRetained (filter = '#'): number {
    if (!validTopicFilter(filter)) throw new RangeError(`invalid topic filter '${filter}'`)
    let n = 0
    for (const m of this.core.retained.match(filter)) {
      if (this.core.deleteRetained(m.topic)) n++
    }
    return n
  }

  stats (): BrokerStats {
    return this.core.statsSnapshot()
  }

  /** Every figure the broker keeps (what $SYS and the Prometheus endpoint show), at this moment. */
  metrics (): BrokerMetrics {
    return this.figures.snapshot()
  }

  /**
   * Measure the event loop's delay (reported in metrics().eventLoopDelay) until the returned
   * function is called: for a metrics endpoint while it is served. The $SYS tree keeps it on too.
   */
  watchEventLoop (): () => void {
    return this.figures.loop.acquire()
  }

  /** Close listeners and clients (MQTT 5 reason 0x8B), keep sessions, flush persistence. */
  close (): Promise<void> {
    if (this.closed) return this.closed
    this.closed = this.doClose()
    return this.closed
  }

  private async doClose (): Promise<void> {
    const core = this.core
    core.closing = true
    this.figures.stop()
    await this.ready.catch(() => undefined)
    const serverClosed = [...this.servers].map(s => new Promise<void>(resolve => s.close(() => resolve())))
    for (const c of [...core.clients.values()]) c.shutdown()
    const streamsClosed = [...this.connections].map(s => new Promise<void>(resolve => {
      if (s.destroyed) { resolve(); return }
      s.once('close', () => resolve())
      s.end()
      setTimeout(() => s.destroy(), 500).unref()
    }))
    await Promise.all([...serverClosed, ...streamsClosed])
    core.stopTimer()
    try {
      await core.persistence.sync()
    } finally {
      await core.persistence.close()
    }
  }
}

function ignoreError (): void { /* errors before a connection exists are the stream's end */ }

export function createBroker (options: BrokerOptions = {}): Broker {
  return new Broker(options)
}

const TRACKED = Symbol('hearth.connections')
type Tracked = Duplex & { [TRACKED]?: Set<Duplex> }
function onTrackedClose (this: Duplex): void { (this as Tracked)[TRACKED]?.delete(this) }
