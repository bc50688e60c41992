/**
 * Create the node's broker with its store open: memory, or a FilePersistence folder (waiting for a
 * broker node that is still closing the same folder, retrying briefly while it is held).
 */
import { createBroker, type Broker, type BrokerOptions } from '../../broker'
import type { NodeAPI } from '../shared/red'
import type { PersistenceSettings } from './config'
import { awaitClosing, chooseFolder, claim, forgetMemory, isBusy, memoryFor, newFilePersistence, releaseWhen, retryBusy, storeProblem, usedBy } from './persistence'

/** createBroker refused the options (not a problem of the folder). */
export class BrokerOptionError extends Error {
  constructor (readonly original: Error) { super(original.message) }
}

export interface OpenContext {
  RED: NodeAPI
  nodeId: string
  /** Whether the node is closing (stop retrying). */
  closing: () => boolean
  /** A status while waiting for the folder. */
  waiting: () => void
  warn: (text: string) => void
  /** Report a problem (catalog key under hearth-broker.errors.); the broker is not opened. */
  fail: (key: string, subs: Record<string, string>) => void
  /** The folder in use, or undefined. */
  setDir: (dir: string | undefined) => void
}

/**
 * A broker with its store open, or undefined after ctx.fail(). Throws BrokerOptionError when
 * createBroker refuses the options.
 */
export async function openBroker (options: BrokerOptions, settings: PersistenceSettings, ctx: OpenContext): Promise<Broker | undefined> {
  const { RED, nodeId } = ctx
  const choice = chooseFolder(settings, RED.settings?.userDir, nodeId)
  if (choice.kind === 'memory') {
    if (choice.reason === 'no-user-dir') ctx.warn(RED._('hearth-broker.warnings.no-user-dir'))
    try {
      return createBroker({ ...options, persistence: memoryFor(nodeId) })
    } catch (err) {
      throw new BrokerOptionError(err as Error)
    }
  }
  const dir = choice.dir
  forgetMemory(nodeId)
  const other = usedBy(dir, nodeId)
  if (other !== undefined) {
    ctx.fail('persistence-in-use', { dir, message: RED._('hearth-broker.errors.used-by-node', { id: other }) })
    return undefined
  }
  claim(dir, nodeId)
  ctx.setDir(dir)
  await awaitClosing(dir, ctx.waiting)

  let opening = true
  const onWarning = (message: string, err?: Error): void => {
    const text = err && !message.includes(err.message) ? `${message}: ${err.message}` : message
    // While opening, the only warnings are about a damaged log tail that recovery cut off.
    ctx.warn(RED._(opening ? 'hearth-broker.warnings.recovered' : 'hearth-broker.warnings.persistence', { dir, message: text }))
  }
  const attempt = async (): Promise<Broker> => {
    let b: Broker
    try {
      b = createBroker({ ...options, persistence: newFilePersistence(dir, settings, onWarning) })
    } catch (err) {
      throw new BrokerOptionError(err as Error)
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
    return await retryBusy(attempt, ctx.closing, ctx.waiting)
  } catch (err) {
    releaseWhen(dir, nodeId, Promise.resolve())
    ctx.setDir(undefined)
    if (err instanceof BrokerOptionError) throw err
    const e = err instanceof Error ? err : new Error(String(err))
    // The core's StoreError says why without the folder; the node's message names it once.
    ctx.fail(isBusy(e) ? 'persistence-in-use' : 'persistence-unusable', { dir, message: storeProblem(e) })
    return undefined
  } finally {
    opening = false
  }
}
