import { createBroker, type Broker, type BrokerOptions } from '../../broker'
import type { Node, NodeAPI, NodeInitializer, NodeMessage } from '../shared/red'
import { setStatus } from '../shared/status'
import { parseBrokerConfig, type ConfigProblem, type PersistenceSettings } from './config'
import { CommandError, runCommand } from './commands'
import { forwardEvents } from './events'
import { Listener } from './listener'
import { awaitClosing, chooseFolder, claim, forgetMemory, isBusy, memoryFor, newFilePersistence, releaseWhen, retryBusy, storeProblem, usedBy } from './persistence'
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
  /** The folder holding the broker's state; undefined when it is kept in memory. */
  persistenceDir?: string
}

/** createBroker refused the options (not a problem of the folder). */
class OptionError extends Error {
  constructor (readonly original: Error) { super(original.message) }
}

/** Status updates are coalesced: a burst of connects repaints once. */
const STATUS_DELAY_MS = 200

const nodeInit: NodeInitializer = (RED: NodeAPI) => {
  function HearthBrokerNode (this: BrokerNode, config: BrokerNodeConfig & { id: string, type: string }): void {
    RED.nodes.createNode(this, config)
    const node = this
    node.broker = undefined
    let detach: (() => void) | undefined
    let listener: Listener | undefined
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

    const failPersistence = (key: string, subs: Record<string, string>): undefined => {
      fail(RED._(`hearth-broker.errors.${key}`, subs))
      return undefined
    }

    /**
     * A broker with its store open, or undefined after fail(). Throws only when createBroker
     * refuses the options. Waits for a broker node that is still closing the same folder.
     */
    async function openBroker (options: BrokerOptions, settings: PersistenceSettings): Promise<Broker | undefined> {
      const choice = chooseFolder(settings, RED.settings?.userDir, node.id)
      if (choice.kind === 'memory') {
        if (choice.reason === 'no-user-dir') node.warn(RED._('hearth-broker.warnings.no-user-dir'))
        return createBroker({ ...options, persistence: memoryFor(node.id) })
      }
      const dir = choice.dir
      forgetMemory(node.id)
      const other = usedBy(dir, node.id)
      if (other !== undefined) return failPersistence('persistence-in-use', { dir, message: RED._('hearth-broker.errors.used-by-node', { id: other }) })
      claim(dir, node.id)
      node.persistenceDir = dir
      const waiting = (): void => setStatus(node, 'waiting', RED._('hearth-broker.status.waiting-folder'))
      await awaitClosing(dir, waiting)

      let opening = true
      const onWarning = (message: string, err?: Error): void => {
        const text = err && !message.includes(err.message) ? `${message}: ${err.message}` : message
        // While opening, the only warnings are about a damaged log tail that recovery cut off.
        node.warn(RED._(opening ? 'hearth-broker.warnings.recovered' : 'hearth-broker.warnings.persistence', { dir, message: text }))
      }
      const attempt = async (): Promise<Broker> => {
        let b: Broker
        try {
          b = createBroker({ ...options, persistence: newFilePersistence(dir, settings, onWarning) })
        } catch (err) {
          throw new OptionError(err as Error)
        }
        try {
          await b.ready
        } catch (err) {
          await b.close().catch(() => {})
          throw err
        }
        return b
      }
      try {
        return await retryBusy(attempt, () => closing, waiting)
      } catch (err) {
        releaseWhen(dir, node.id, Promise.resolve())
        node.persistenceDir = undefined
        if (err instanceof OptionError) throw err.original
        const e = err instanceof Error ? err : new Error(String(err))
        // The core's message names the folder too: keep only the cause.
        return failPersistence(isBusy(e) ? 'persistence-in-use' : 'persistence-unusable', { dir, message: storeProblem(e) })
      } finally {
        opening = false
      }
    }

    const listenFailure = (e: NodeJS.ErrnoException, port: number, host: string): string => {
      if (e.code === 'EADDRINUSE') return RED._('hearth-broker.errors.port-in-use', { port, host })
      if (e.code === 'EACCES') return RED._('hearth-broker.errors.port-denied', { port })
      if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') return RED._('hearth-broker.errors.bad-host', { host })
      return RED._('hearth-broker.errors.listen-failed', { message: e.message })
    }

    async function start (): Promise<void> {
      const parsed = parseBrokerConfig(config, node.credentials)
      if (!parsed.ok) return fail(problemText(parsed.problem))

      // The port is bound first: clients connecting while the state loads wait for it.
      let l: Listener
      try {
        l = await Listener.open(parsed.port, parsed.host, (err) => node.log(RED._('hearth-broker.warnings.listener', { message: err.message })))
      } catch (err) {
        return fail(listenFailure(err as NodeJS.ErrnoException, parsed.port, parsed.host))
      }
      listener = l
      node.port = l.port

      let broker: Broker | undefined
      try {
        broker = await openBroker(parsed.options, parsed.persistence)
      } catch (err) {
        fail(RED._('hearth-broker.errors.bad-option', { message: (err as Error).message }))
      }
      if (!broker) {
        listener = undefined
        node.port = undefined
        await l.close()
        return
      }
      broker.on('warning', (w) => node.log(w.message))
      if (closing) {
        await closeBroker(broker)
        return
      }
      l.serve(broker)
      node.broker = broker
      detach = forwardEvents(broker, { emit: (msg) => node.send(msg), clientsChanged: schedulePaint })
      paint()
    }

    /**
     * Stop the listener and close a broker this node opened. Its folder is free for the next
     * broker once the close finished, and its port once the listener closed.
     */
    function closeBroker (broker: Broker): Promise<void> {
      const portFree = listener?.close() ?? Promise.resolve()
      listener = undefined
      const done = broker.close()
      if (node.persistenceDir !== undefined) releaseWhen(node.persistenceDir, node.id, done)
      return done
        .catch((err: Error) => node.error(RED._('hearth-broker.errors.close-failed', { message: err.message })))
        .then(() => portFree)
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
        // Waits for the store to be flushed and closed: the next broker node may open the same folder.
        if (broker) await closeBroker(broker)
        // A removed node's folder stays on disk (it may be added back, or copied); its memory state goes.
        if (removed) forgetMemory(node.id)
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
