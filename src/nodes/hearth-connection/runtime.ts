import type { Message, SubscriptionOptions } from '../../broker/types'
import type { Node, NodeAPI, NodeInitializer } from '../shared/red'
import { readFlag } from '../shared/values'
import { ExternalClient, InProcessClient, type ClientEvents, type ClientStats, type ConnectionClient, type TlsOptions } from './clients'
import { parseConnection, type ConnectionInput, type ConfigProblem, type ParsedConnection } from './options'
import { applyOverrides, isObject } from './overrides'
import { SubscriptionTable } from './subscriptions'
import { TYPE, type ConnectionNodeConfig, type ConnectionNodeCredentials } from './types'
import type { ConnectionApi, ConnectionState, ConnectionUser, MessageHandler } from './api'

type ConnectionNode = Node<ConnectionNodeCredentials> & { -readonly [K in keyof ConnectionApi]: ConnectionApi[K] }

/** A core tls-config node, as far as this node uses it. */
interface TlsConfigNode { addTLSOptions (opts: TlsOptions): TlsOptions }

const NO_STATS: ClientStats = { queued: 0, queuedBytes: 0, inflight: 0, dropped: 0, drainListeners: 0 }

const nodeInit: NodeInitializer = (RED: NodeAPI) => {
  const t = (key: string, subs?: Record<string, string | number>): string => RED._(`hearth-connection.${key}`, subs)
  const problemText = (p: ConfigProblem): string => t(`errors.${p.key}`, p.subs)

  function HearthConnectionNode (this: ConnectionNode, config: ConnectionNodeConfig & { id: string, type: string }): void {
    RED.nodes.createNode(this, config)
    const node = this
    let input: ConnectionInput = config
    let creds: Partial<ConnectionNodeCredentials> = { ...node.credentials }
    let parsed: ParsedConnection = parseConnection(input, creds)
    const users = new Map<string, ConnectionUser>()
    const subs = new SubscriptionTable((err) => node.error(err.message))
    let client: ConnectionClient | undefined
    let closed = false
    let startTimer: NodeJS.Timeout | undefined
    let stopping: Promise<void> = Promise.resolve()
    let stopPending = false
    let stateText: string | undefined
    let settleReady: () => void = () => {}
    /** Connect actions waiting for the connection. */
    let waiters: Array<{ resolve: () => void, reject: (err: Error) => void }> = []
    /** QoS 0 messages dropped by clients closed earlier (the count covers the node's life). */
    let droppedBefore = 0

    node.external = config.brokerType === 'external'
    /** Whether the connection should be open while it has users: always in-process; external, per autoConnect and actions. */
    let requested = !node.external || !parsed.ok || parsed.external?.autoConnect !== false
    node.state = 'disconnected'
    node.connected = false
    node.ready = new Promise<void>((resolve) => { settleReady = resolve })
    const describe = (): void => {
      node.protocolVersion = parsed.ok ? parsed.protocolVersion : 5
      node.clientId = parsed.ok ? parsed.options.clientId as string : ''
    }
    describe()

    const settleWaiters = (err?: Error): void => {
      const list = waiters
      waiters = []
      for (const w of list) {
        if (err) w.reject(err)
        else w.resolve()
      }
    }
    const setState = (state: ConnectionState, text?: string): void => {
      node.state = state
      node.connected = state === 'connected'
      stateText = text
      for (const user of users.values()) user.onState(state, text)
      if (state === 'connected') settleWaiters()
      else if (state === 'error') settleWaiters(new Error(text))
    }

    async function resubscribe (c: ConnectionClient): Promise<void> {
      const list = [...subs.entries()].map((e) => subs.wire(e, node.protocolVersion, c.subscriptionIdentifiers))
      if (list.length === 0) return
      const codes = await c.subscribe(list).catch((err: Error) => { node.error(err.message); return [] as number[] })
      codes.forEach((code, i) => {
        if (code >= 0x80) node.error(t('errors.subscribe-refused', { topic: list[i].topic, code: `0x${code.toString(16)}` }))
      })
    }

    /** TLS options from the tls-config node, for mqtts and wss; undefined when there is none. */
    function tlsOptions (id: string): TlsOptions | undefined | Error {
      if (id === '') return undefined
      const tlsNode = RED.nodes.getNode(id) as Partial<TlsConfigNode> | null
      if (!tlsNode || typeof tlsNode.addTLSOptions !== 'function') return new Error(t('errors.no-tls', { id }))
      return tlsNode.addTLSOptions({})
    }

    function makeClient (p: Extract<ParsedConnection, { ok: true }>, events: ClientEvents): ConnectionClient | Error {
      const common = { options: p.options, birth: p.birth, close: p.close }
      if (!p.external) return new InProcessClient({ ...common, brokerNode: () => RED.nodes.getNode(config.broker) }, events)
      const tls = p.external.url.secure ? tlsOptions(p.external.tls) : undefined
      if (tls instanceof Error) return tls
      return new ExternalClient({ ...common, url: p.external.url, tls, limits: p.external.limits }, events)
    }

    function open (): void {
      if (client || closed || !requested || users.size === 0) return
      if (!parsed.ok) {
        setState('error', problemText(parsed.problem))
        settleReady()
        return
      }
      let c: ConnectionClient | undefined = undefined // set once the client is made; the events below see it
      const events: ClientEvents = {
        state: (state, text) => { if (c !== undefined && c === client) setState(state, text) },
        connected: () => resubscribe(c as ConnectionClient),
        message: (m) => subs.dispatch(m),
        settled: () => settleReady(),
        log: (level, text) => node[level](text),
        text: t,
      }
      const made = makeClient(parsed, events)
      if (made instanceof Error) {
        node.error(made.message)
        setState('error', made.message)
        settleReady()
        return
      }
      c = made
      client = c
      c.start()
    }

    /** Open after the current deploy step (so every user has registered) and after a previous close finished. */
    function scheduleOpen (): void {
      if (startTimer) return
      startTimer = setTimeout(() => {
        startTimer = undefined
        stopping.then(open, open)
      }, 0)
    }

    /** Close the client cleanly (close message, no will); resolves once it is closed. */
    function shut (): Promise<void> {
      if (startTimer) clearTimeout(startTimer)
      startTimer = undefined
      const c = client
      client = undefined
      settleWaiters(new Error(t('errors.not-connected')))
      if (!c) return stopping
      stopPending = true
      stopping = c.stop().catch((err: Error) => node.warn(err.message)).then(() => {
        stopPending = false
        droppedBefore += c.stats().dropped
        if (!client) setState('disconnected')
      })
      return stopping
    }

    node.register = (user: ConnectionUser): void => {
      if (closed) return
      users.set(user.id, user)
      user.onState(node.state, stateText)
      if (users.size !== 1) return
      if (node.external && parsed.ok && parsed.external?.autoConnect) requested = true
      if (!requested) settleReady()
      // External: at once, so messages sent right after the deploy are queued, not refused.
      else if (node.external && !stopPending) open()
      else scheduleOpen()
    }

    node.deregister = async (user: ConnectionUser, _removed: boolean): Promise<void> => {
      users.delete(user.id)
      if (users.size > 0) return stopping
      return shut()
    }

    function publish (message: Message): Promise<void>
    function publish (message: Message, done: (err?: Error) => void): void
    function publish (message: Message, done?: (err?: Error) => void): Promise<void> | void {
      if (!done) return new Promise<void>((resolve, reject) => publish(message, (err) => (err ? reject(err) : resolve())))
      if (!client) return done(new Error(t('errors.not-connected')))
      client.publish(message, done)
    }
    node.publish = publish

    node.subscribe = async (options: SubscriptionOptions, ref: string, handler: MessageHandler): Promise<number | undefined> => {
      const max = parsed.ok ? parsed.external?.limits.maxSubscriptions : undefined
      if (max !== undefined && !subs.has(options.topic) && subs.size >= max) {
        throw Object.assign(new Error(t('errors.subscriptions-full', { topic: options.topic, max })), { code: 'HEARTH_SUBSCRIPTIONS_FULL' })
      }
      const entry = subs.add(options, ref, handler)
      const c = client
      if (!c || !c.connected) return undefined
      const [code] = await c.subscribe([subs.wire(entry, node.protocolVersion, c.subscriptionIdentifiers)])
      return code
    }

    node.unsubscribe = async (filter: string, ref: string, removed: boolean): Promise<void> => {
      const emptied = subs.remove(filter, ref)
      const c = client
      if (emptied && removed && c?.connected) await c.unsubscribe([filter]).catch(() => {})
    }

    node.connectAction = async (overrides: unknown): Promise<void> => {
      if (!node.external || closed) throw new Error(t('errors.not-connected'))
      const data = isObject(overrides) ? overrides : undefined
      const active = client !== undefined
      if (active && !data) return
      if (active && !readFlag(data?.force, false)) throw new Error(t('errors.already-connected'))
      if (data) {
        const next = applyOverrides(input, creds, data)
        const p = parseConnection({ ...next.config, brokerType: 'external' }, next.creds)
        if (!p.ok) throw new Error(problemText(p.problem))
        if (active) await shut()
        input = next.config
        creds = next.creds
        parsed = p
        describe()
      }
      requested = true
      const connected = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }))
      await stopping
      open()
      if (!client) settleWaiters(new Error(stateText ?? t('errors.not-connected')))
      return connected
    }

    node.disconnectAction = async (): Promise<void> => {
      requested = false
      await shut()
    }

    node.stats = (): ClientStats => {
      const now = client?.stats() ?? NO_STATS
      return { ...now, dropped: droppedBefore + now.dropped }
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true
      requested = false
      settleReady()
      const finish = shut()
      users.clear()
      finish.catch(() => {}).finally(() => done())
    })
  }

  RED.nodes.registerType(TYPE, HearthConnectionNode, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  })
}

export default nodeInit
