import { createBroker, MemoryPersistence, type Broker } from '../../broker'
import type { Node, NodeAPI, NodeInitializer, NodeMessage } from '../shared/red'
import { setStatus } from '../shared/status'
import { parseBrokerConfig, type ConfigProblem } from './config'
import { CommandError, runCommand } from './commands'
import { forwardEvents } from './events'
import { TYPE, type BrokerNodeConfig, type BrokerNodeCredentials } from './types'

/** A running hearth-broker node, as other Hearth nodes and tests see it. */
export interface BrokerNode extends Node<BrokerNodeCredentials> {
  /** Settles once the broker listens or has failed to start; never rejects. */
  ready: Promise<void>
  /** The running broker, undefined when it failed to start or is closed. */
  broker?: Broker
  /** The bound TCP port (the real one when 0 was configured). */
  port?: number
  /** Why the broker is not running, already translated. */
  failure?: string
}

/**
 * State that must outlive a redeploy lives here, per node id, for the life of the process:
 * retained messages and persistent sessions.
 */
const persistences = new Map<string, MemoryPersistence>()

/** Status updates are coalesced: a burst of connects repaints once. */
const STATUS_DELAY_MS = 200

const nodeInit: NodeInitializer = (RED: NodeAPI) => {
  function HearthBrokerNode (this: BrokerNode, config: BrokerNodeConfig & { id: string, type: string }): void {
    RED.nodes.createNode(this, config)
    const node = this
    node.broker = undefined
    let detach: (() => void) | undefined
    let statusTimer: NodeJS.Timeout | undefined
    let closing = false

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
      setStatus(node, 'ok', RED._(count === 1 ? 'hearth-broker.status.listening-one' : 'hearth-broker.status.listening', { port: node.port ?? '', count }))
    }
    const schedulePaint = (): void => {
      if (!statusTimer && !closing) statusTimer = setTimeout(paint, STATUS_DELAY_MS)
    }

    async function start (): Promise<void> {
      const parsed = parseBrokerConfig(config, node.credentials)
      if (!parsed.ok) return fail(problemText(parsed.problem))
      if (parsed.persistenceDir !== '') node.warn(RED._('hearth-broker.errors.persistence-dir-unsupported'))

      let persistence = persistences.get(node.id)
      if (!persistence) {
        persistence = new MemoryPersistence()
        persistences.set(node.id, persistence)
      }
      let broker: Broker
      try {
        broker = createBroker({ ...parsed.options, persistence })
      } catch (err) {
        return fail(RED._('hearth-broker.errors.bad-option', { message: (err as Error).message }))
      }
      broker.on('warning', (w) => node.log(w.message))
      try {
        const addr = await broker.listen({ port: parsed.port, host: parsed.host })
        node.port = addr.port
      } catch (err) {
        const e = err as NodeJS.ErrnoException
        await broker.close().catch(() => {})
        if (e.code === 'EADDRINUSE') return fail(RED._('hearth-broker.errors.port-in-use', { port: parsed.port, host: parsed.host }))
        if (e.code === 'EACCES') return fail(RED._('hearth-broker.errors.port-denied', { port: parsed.port }))
        if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') return fail(RED._('hearth-broker.errors.bad-host', { host: parsed.host }))
        return fail(RED._('hearth-broker.errors.listen-failed', { message: e.message }))
      }
      if (closing) {
        await broker.close().catch(() => {})
        return
      }
      node.broker = broker
      detach = forwardEvents(broker, { emit: (msg) => node.send(msg), clientsChanged: schedulePaint })
      paint()
    }

    node.ready = start().catch((err: Error) => fail(RED._('hearth-broker.errors.listen-failed', { message: err.message })))

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
        if (broker) await broker.close()
        if (removed) persistences.delete(node.id)
      }
      stop().catch((err: Error) => node.error(err.message)).finally(() => {
        setStatus(node, 'clear')
        done()
      })
    })
  }

  RED.nodes.registerType(TYPE, HearthBrokerNode, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  })
}

export default nodeInit
