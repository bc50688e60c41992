import { INTEGER_OPTIONS, PasswordAuthenticator, type Authorizer, type Broker, type PasswordEntry, type PeerInfo } from '../../broker'
import type { Node, NodeAPI, NodeInitializer, NodeMessage } from '../shared/red'
import { setStatus } from '../shared/status'
import { mergeStored, planAccounts, resolveAccounts } from './accounts'
import { buildAuthorizer } from './acl'
import { registerAdminRoutes } from './admin'
import { CommandError, runCommand } from './commands'
import { ConfigError, parseBrokerConfig, type ConfigProblem, type ParsedConfig } from './config'
import { forwardEvents } from './events'
import { openListeners as exposedListeners } from './exposure'
import { closeListeners, openListeners, type OpenListener } from './listeners'
import { type BrokerOptionError, openBroker } from './open-broker'
import { forgetMemory, releaseWhen } from './persistence'
import { tlsFromConfigNode } from './tls'
import { LIMIT_KEYS, OPTIONS_SETTING, TYPE, isSecure, type BrokerNodeConfig, type BrokerNodeCredentials } from './types'

/** A running hearth-broker node, as other Hearth nodes and tests see it. */
export interface BrokerNode extends Node<BrokerNodeCredentials> {
  /** Settles once the broker listens or has failed to start; never rejects. */
  ready: Promise<void>
  /** The running broker, undefined when it failed to start or is closed. */
  broker?: Broker
  /** The bound port of the first listener that has one (the real one when 0 was configured). */
  port?: number
  /** Every open listener: kind, bound port (none on Node-RED's server) and status label. (Not `listeners`: a Node is an EventEmitter.) */
  listening?: Array<{ kind: string, port: number | undefined, label: string }>
  /** Why the broker is not running, already translated. */
  failure?: string
  /** The folder holding the broker's state; undefined when it is kept in memory. */
  persistenceDir?: string
}

/** Status updates are coalesced: a burst of connects repaints once. */
const STATUS_DELAY_MS = 200

const nodeInit: NodeInitializer = (RED: NodeAPI) => {
  registerAdminRoutes(RED, TYPE)

  function HearthBrokerNode (this: BrokerNode, config: BrokerNodeConfig & { id: string, type: string }): void {
    RED.nodes.createNode(this, config)
    const node = this
    node.broker = undefined
    let detach: (() => void) | undefined
    let listeners: OpenListener[] = []
    let statusTimer: NodeJS.Timeout | undefined
    let closing = false
    let open = false

    const fail = (text: string): void => {
      node.failure = text
      setStatus(node, 'error', text)
      node.error(text)
    }
    const problemText = (p: ConfigProblem): string => RED._(`hearth-broker.errors.${p.key}`, p.subs)

    const paint = (): void => {
      statusTimer = undefined
      if (!node.broker || closing) return
      const count = node.broker.clients().length
      const where = listeners.map(l => l.label).join(' ')
      const text = RED._(count === 1 ? 'hearth-broker.status.listening-one' : 'hearth-broker.status.listening', { listeners: where, count })
      if (open) setStatus(node, 'warning', `${text} · ${RED._('hearth-broker.status.open')}`)
      else setStatus(node, 'ok', text)
    }
    const schedulePaint = (): void => {
      if (!statusTimer && !closing) statusTimer = setTimeout(paint, STATUS_DELAY_MS)
    }

    /** Hash new passwords and store the hashes; runs whatever else is wrong with the config. */
    function settleAccounts (plan: ReturnType<typeof planAccounts>): Promise<PasswordEntry[]> {
      if (plan.problem !== undefined) return Promise.resolve([])
      const consumed = { ...node.credentials }
      return resolveAccounts(plan, consumed).then((r) => {
        if (r.credentials !== undefined) {
          // A deploy may have changed the stored credentials while this node hashed: merge, never overwrite.
          const current = RED.nodes.getCredentials?.(node.id) as Partial<BrokerNodeCredentials> | undefined
          const next = mergeStored(current, consumed, r.credentials)
          if (next !== undefined) RED.nodes.addCredentials?.(node.id, next)
          if (!closing) node.credentials = r.credentials
        }
        return r.entries
      }, (err: Error) => {
        node.error(RED._('hearth-broker.errors.hash-failed', { message: err.message }))
        return []
      })
    }

    const onClientError = (err: Error, peer: PeerInfo): void => {
      node.debug(RED._('hearth-broker.debug.client-error', { transport: peer.transport ?? '', address: peer.remoteAddress ?? '', message: err.message }))
    }

    /** Check what needs no port, then bind every listener. Throws ConfigError. */
    async function bind (parsed: ParsedConfig, accounts: number): Promise<OpenListener[]> {
      const identity = parsed.listeners.some(l => l.useIdentityAsUsername)
      if (!parsed.allowAnonymous && accounts === 0 && !identity) throw new ConfigError({ key: 'no-user', subs: {} })
      const tls = parsed.listeners.some(l => isSecure(l.kind)) ? tlsFromConfigNode(RED, parsed.tls) : undefined
      return await openListeners(parsed.listeners, {
        tls,
        maxPacketSize: parsed.options.maxPacketSize ?? INTEGER_OPTIONS.maxPacketSize.default,
        server: RED.server,
        settings: RED.settings ?? {},
        eachNode: (cb) => RED.nodes.eachNode?.(cb),
        onClientError,
        onError: (err) => node.log(RED._('hearth-broker.warnings.listener', { message: err.message })),
      })
    }

    async function start (accountsDone: Promise<PasswordEntry[]>, plan: ReturnType<typeof planAccounts>): Promise<void> {
      const result = parseBrokerConfig(config)
      if (!result.ok) return fail(problemText(result.problem))
      const parsed = result.config
      if (plan.problem !== undefined) return fail(problemText(plan.problem))
      let authorize: Authorizer | undefined
      try {
        authorize = parsed.acl !== undefined ? buildAuthorizer(parsed.acl) : undefined
        // The ports and paths are bound first: clients connecting while the state loads wait for it.
        listeners = await bind(parsed, plan.sources.length)
      } catch (err) {
        if (err instanceof ConfigError) return fail(problemText(err.problem))
        throw err
      }
      const first = listeners.find(l => l.port !== undefined)
      node.port = first?.port
      node.listening = listeners.map(l => ({ kind: l.plan.kind, port: l.port, label: l.label }))

      const authenticate = new PasswordAuthenticator({ passwordFile: await accountsDone }, { allowAnonymous: parsed.allowAnonymous, trustLocal: true })
      let broker: Broker | undefined
      try {
        broker = await openBroker({ ...parsed.options, authenticate, authorize }, parsed.persistence, {
          RED,
          nodeId: node.id,
          closing: () => closing,
          waiting: () => setStatus(node, 'waiting', RED._('hearth-broker.status.waiting-folder')),
          warn: (text) => node.warn(text),
          fail: (key, subs) => fail(RED._(`hearth-broker.errors.${key}`, subs)),
          setDir: (dir) => { node.persistenceDir = dir },
        })
      } catch (err) {
        fail(RED._('hearth-broker.errors.bad-option', { message: (err as BrokerOptionError).original?.message ?? (err as Error).message }))
      }
      if (!broker) {
        const l = listeners
        listeners = []
        node.port = undefined
        node.listening = undefined
        await closeListeners(l)
        return
      }
      broker.on('warning', (w) => node.log(w.message))
      if (closing) {
        await closeBroker(broker)
        return
      }
      for (const l of listeners) l.serve(broker)
      node.broker = broker
      const exposed = exposedListeners(parsed.listeners, parsed.allowAnonymous, parsed.acl !== undefined, RED.settings?.uiHost)
      open = exposed.length > 0
      if (open) {
        const where = listeners.filter(l => exposed.includes(l.plan)).map(l => l.label).join(' ')
        node.log(RED._('hearth-broker.warnings.open', { listeners: where }))
      }
      detach = forwardEvents(broker, { emit: (msg) => node.send(msg), clientsChanged: schedulePaint })
      paint()
    }

    /**
     * Stop the listeners and close a broker this node opened. Its folder is free for the next
     * broker once the close finished, and its ports and paths once the listeners closed.
     */
    function closeBroker (broker: Broker): Promise<void> {
      const portsFree = closeListeners(listeners)
      listeners = []
      const done = broker.close()
      if (node.persistenceDir !== undefined) releaseWhen(node.persistenceDir, node.id, done)
      return done
        .catch((err: Error) => node.error(RED._('hearth-broker.errors.close-failed', { message: err.message })))
        .then(() => portsFree)
    }

    const plan = planAccounts(config.usernames, node.credentials)
    const accountsDone = settleAccounts(plan)
    node.ready = start(accountsDone, plan)
      .catch((err: Error) => fail(RED._('hearth-broker.errors.listen-failed', { message: err.message })))
      // Stored hashes are in the credentials before the node counts as started (or failed).
      .then(() => accountsDone.then(() => undefined))

    node.on('input', (msg: NodeMessage, send, done) => {
      const broker = node.broker
      if (!broker) {
        done(new Error(RED._('hearth-broker.errors.not-running')))
        return
      }
      runCommand(broker, msg).then((payload) => {
        msg.topic = msg.action
        msg.payload = payload
        send(msg)
        done()
      }, (err: Error) => {
        done(new Error(err instanceof CommandError ? RED._(`hearth-broker.errors.${err.key}`, err.subs) : err.message))
      })
    })

    node.on('close', (removed: boolean, done: () => void) => {
      closing = true
      if (statusTimer) clearTimeout(statusTimer)
      statusTimer = undefined
      const stop = async (): Promise<void> => {
        await node.ready
        // Let connection nodes closing in the same deploy publish their close messages first.
        await new Promise((resolve) => setImmediate(resolve))
        const broker = node.broker
        node.broker = undefined
        if (detach) detach()
        // Waits for the store to be flushed and closed: the next broker node may open the same folder.
        if (broker) await closeBroker(broker)
        else await closeListeners(listeners)
        // A removed node's folder stays on disk (it may be added back, or copied); its memory state goes.
        if (removed) forgetMemory(node.id)
      }
      stop().catch((err: Error) => node.error(err.message)).finally(() => {
        setStatus(node, 'clear')
        done()
      })
    })
  }

  const ranges: Record<string, unknown> = {}
  for (const key of [...LIMIT_KEYS, 'maximumQoS'] as const) ranges[key] = { ...INTEGER_OPTIONS[key] }
  RED.nodes.registerType(TYPE, HearthBrokerNode, {
    credentials: {
      username: { type: 'text' },
      password: { type: 'password' },
      userHashes: { type: 'password' },
      newPasswords: { type: 'password' },
    },
    // The core's option table, for the editor's defaults and ranges (RED.settings.hearthBrokerOptionRanges).
    settings: { [OPTIONS_SETTING]: { value: ranges, exportable: true } },
  })
}

export default nodeInit
