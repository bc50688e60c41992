import type { LocalClient } from '../../broker'
import type { DeliveredMessage, Message, SubscriptionOptions } from '../../broker/types'
import type { BrokerNode } from '../hearth-broker/runtime'
import type { Node, NodeAPI, NodeInitializer } from '../shared/red'
import { parseConnection } from './options'
import { SubscriptionTable } from './subscriptions'
import { TYPE, type ConnectionNodeConfig, type ConnectionNodeCredentials } from './types'
import type { ConnectionApi, ConnectionState, ConnectionUser, MessageHandler } from './api'

type ConnectionNode = Node<ConnectionNodeCredentials> & { -readonly [K in keyof ConnectionApi]: ConnectionApi[K] }

/** Delays before trying again, in ms. */
const RETRY = { noBroker: 500, brokerDown: 2000, refused: 5000, lost: 1000 }
/** Longest wait for the close message before disconnecting anyway. */
const CLOSE_TIMEOUT_MS = 2000

/**
 * Is `n` a running broker node? Checked by shape, not by type name, so any node that owns a
 * core Broker the same way (`ready` and `broker`) can serve connections.
 */
function isBrokerNode (n: unknown): n is BrokerNode {
  const b = n as Partial<BrokerNode> | null
  return !!b && typeof b.ready?.then === 'function' && 'broker' in b
}

/** An Error carrying the broker's reason code, as the core rejects with. */
type CodedError = Error & { reasonCode?: number }

const nodeInit: NodeInitializer = (RED: NodeAPI) => {
  function HearthConnectionNode (this: ConnectionNode, config: ConnectionNodeConfig & { id: string, type: string }): void {
    RED.nodes.createNode(this, config)
    const node = this
    const parsed = parseConnection(config, node.credentials)
    const users = new Map<string, ConnectionUser>()
    const subs = new SubscriptionTable((err) => node.error(err.message))
    let client: LocalClient | undefined
    let wanted = false
    let closed = false
    let connecting: Promise<void> | undefined
    let disconnecting: Promise<void> | undefined
    let retryTimer: NodeJS.Timeout | undefined
    let stateText: string | undefined
    let settleReady: () => void = () => {}

    node.state = 'disconnected'
    node.connected = false
    node.protocolVersion = parsed.ok ? parsed.protocolVersion : 5
    node.clientId = parsed.ok ? parsed.options.clientId as string : ''
    node.ready = new Promise<void>((resolve) => { settleReady = resolve })

    const setState = (state: ConnectionState, text?: string): void => {
      node.state = state
      node.connected = state === 'connected'
      stateText = text
      for (const user of users.values()) user.onState(state, text)
    }
    const retry = (delay: number): void => {
      settleReady()
      if (!wanted || closed || retryTimer) return
      retryTimer = setTimeout(() => { retryTimer = undefined; startConnect() }, delay)
    }
    const startConnect = (): void => {
      if (connecting || client || !wanted || closed) return
      connecting = attempt().catch((err: Error) => {
        setState('error', err.message)
        retry(RETRY.refused)
      }).finally(() => { connecting = undefined })
    }

    async function attempt (): Promise<void> {
      if (!parsed.ok) {
        setState('error', RED._(`hearth-connection.errors.${parsed.problem.key}`, parsed.problem.subs))
        settleReady()
        return
      }
      if (config.brokerType === 'external') {
        setState('error', RED._('hearth-connection.errors.external-unsupported'))
        settleReady()
        return
      }
      const brokerNode = RED.nodes.getNode(config.broker)
      if (!isBrokerNode(brokerNode)) {
        setState('waiting', RED._('hearth-connection.status.no-broker'))
        return retry(RETRY.noBroker)
      }
      await brokerNode.ready
      if (!wanted || closed) return
      const broker = brokerNode.broker
      if (!broker) {
        setState('error', RED._('hearth-connection.status.broker-down'))
        return retry(RETRY.brokerDown)
      }
      setState('connecting')
      let c: LocalClient
      try {
        c = await broker.connectLocal(parsed.options)
      } catch (err) {
        const code = (err as CodedError).reasonCode
        const text = RED._('hearth-connection.errors.refused', { reason: (err as Error).message, code: code === undefined ? '-' : `0x${code.toString(16)}` })
        node.error(text)
        setState('error', text)
        return retry(RETRY.refused)
      }
      if (!wanted || closed) {
        await c.end().catch(() => {})
        return
      }
      client = c
      c.on('message', (m: DeliveredMessage) => subs.dispatch(m))
      c.on('close', () => {
        if (client !== c) return
        client = undefined
        if (!wanted || closed) return
        setState('disconnected')
        retry(RETRY.lost)
      })
      await resubscribe(c)
      if (parsed.birth) await c.publish(parsed.birth).catch((err: Error) => node.warn(RED._('hearth-connection.errors.birth-failed', { message: err.message })))
      if (client === c) setState('connected')
      settleReady()
    }

    async function resubscribe (c: LocalClient): Promise<void> {
      const list = [...subs.entries()].map((e) => subs.wire(e, node.protocolVersion))
      if (list.length === 0) return
      const codes = await c.subscribe(list).catch((err: Error) => { node.error(err.message); return [] as number[] })
      codes.forEach((code, i) => {
        if (code >= 0x80) node.error(RED._('hearth-connection.errors.subscribe-refused', { topic: list[i].topic, code: `0x${code.toString(16)}` }))
      })
    }

    /** Publish the close message (synchronously started, so it goes out before the broker closes) then end. */
    async function disconnect (): Promise<void> {
      if (retryTimer) clearTimeout(retryTimer)
      retryTimer = undefined
      const c = client
      client = undefined
      if (c) {
        const closing = parsed.ok && parsed.close && c.connected ? c.publish(parsed.close).catch(() => {}) : undefined
        if (closing) {
          let timer: NodeJS.Timeout | undefined
          await Promise.race([closing, new Promise((resolve) => { timer = setTimeout(resolve, CLOSE_TIMEOUT_MS) })])
          clearTimeout(timer)
        }
        await c.end().catch(() => {})
      }
      if (connecting) await connecting
      setState('disconnected')
    }

    node.register = (user: ConnectionUser): void => {
      if (closed) return
      users.set(user.id, user)
      user.onState(node.state, stateText)
      if (users.size === 1) {
        wanted = true
        // Connect after the current deploy step, so every user of this connection has registered.
        retryTimer = setTimeout(() => { retryTimer = undefined; startConnect() }, 0)
      }
    }

    node.deregister = async (user: ConnectionUser, _removed: boolean): Promise<void> => {
      users.delete(user.id)
      if (users.size > 0 || !wanted) return disconnecting
      wanted = false
      disconnecting = disconnect()
      return disconnecting
    }

    node.publish = (message: Message): Promise<void> => {
      if (!client || !client.connected) return Promise.reject(new Error(RED._('hearth-connection.errors.not-connected')))
      return client.publish(message)
    }

    node.subscribe = async (options: SubscriptionOptions, ref: string, handler: MessageHandler): Promise<number | undefined> => {
      const entry = subs.add(options, ref, handler)
      if (!client) return undefined
      const [code] = await client.subscribe([subs.wire(entry, node.protocolVersion)])
      return code
    }

    node.unsubscribe = async (filter: string, ref: string, removed: boolean): Promise<void> => {
      const emptied = subs.remove(filter, ref)
      if (emptied && removed && client) await client.unsubscribe([filter]).catch(() => {})
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true
      wanted = false
      settleReady()
      const finish = disconnecting ?? disconnect()
      users.clear()
      finish.catch(() => {}).finally(() => done())
    })
  }

  RED.nodes.registerType(TYPE, HearthConnectionNode, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  })
}

export default nodeInit
