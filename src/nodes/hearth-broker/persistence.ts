/**
 * Where a broker node keeps its retained messages and sessions: a FilePersistence folder under
 * Node-RED's userDir (the default), a folder the user chose, or memory when persistence is off.
 *
 * One folder serves one broker at a time (FilePersistence takes a lock). On a redeploy the old
 * node's close must finish before the new node opens the same folder: closing nodes register the
 * promise of their close here, and a starting node waits for it, then retries briefly while the
 * folder is still reported busy.
 */
import os from 'node:os'
import path from 'node:path'
import { FilePersistence, MemoryPersistence, type Persistence } from '../../broker'
import type { PersistenceSettings } from './config'

/** Sub-folder of userDir holding one folder per broker node. */
const FOLDER = 'hearth'

/** How long a starting node waits for a folder another broker node is still closing. */
const CLOSE_WAIT_MS = 30000
/** How long it retries while the folder is reported in use. */
const BUSY_RETRY_MS = 5000
const BUSY_STEP_MS = 100

/** Memory state for nodes with persistence off, per node id, for the life of the process. */
const memory = new Map<string, MemoryPersistence>()
/** Folders whose broker is closing right now: the promise settles when it is closed. */
const closing = new Map<string, Promise<unknown>>()
/** Folders in use by a running broker node of this process: folder -> node id. */
const inUse = new Map<string, string>()

export type FolderChoice =
  | { kind: 'file', dir: string }
  | { kind: 'memory', reason: 'off' | 'no-user-dir' }

/** A node id as a folder name: ids are hex (and `-` in subflow instances); anything else becomes `_`. */
function folderName (nodeId: string): string {
  const safe = nodeId.replace(/[^\w.-]/g, '_')
  return safe === '' || /^\.+$/.test(safe) ? `node-${Buffer.from(nodeId).toString('hex')}` : safe
}

/**
 * Decide where state lives. An override that is relative is taken from userDir (or the working
 * directory when Node-RED has none); a leading `~` is the home directory.
 */
export function chooseFolder (settings: PersistenceSettings, userDir: unknown, nodeId: string): FolderChoice {
  if (!settings.enabled) return { kind: 'memory', reason: 'off' }
  const base = typeof userDir === 'string' && userDir !== '' ? userDir : undefined
  let dir = settings.dir
  if (dir !== '') {
    if (dir === '~' || dir.startsWith('~/') || dir.startsWith('~\\')) dir = path.join(os.homedir(), dir.slice(1))
    return { kind: 'file', dir: path.resolve(base ?? process.cwd(), dir) }
  }
  if (base === undefined) return { kind: 'memory', reason: 'no-user-dir' }
  return { kind: 'file', dir: path.join(base, FOLDER, folderName(nodeId)) }
}

/** The in-memory store of node `nodeId` (created on first use). */
export function memoryFor (nodeId: string): MemoryPersistence {
  let m = memory.get(nodeId)
  if (!m) {
    m = new MemoryPersistence()
    memory.set(nodeId, m)
  }
  return m
}

export function forgetMemory (nodeId: string): void {
  memory.delete(nodeId)
}

export function newFilePersistence (dir: string, settings: PersistenceSettings, onWarning: (msg: string, err?: Error) => void): Persistence {
  return new FilePersistence({ dir, syncMode: settings.syncMode, flushInterval: settings.flushInterval, onWarning })
}

/** The node id of another running broker node that uses `dir`, if any. */
export function usedBy (dir: string, nodeId: string): string | undefined {
  const holder = inUse.get(dir)
  return holder !== undefined && holder !== nodeId ? holder : undefined
}

export function claim (dir: string, nodeId: string): void {
  inUse.set(dir, nodeId)
}

/** Mark `dir` as closing until `done` settles; it is free for the next broker after that. */
export function releaseWhen (dir: string, nodeId: string, done: Promise<unknown>): void {
  if (inUse.get(dir) === nodeId) inUse.delete(dir)
  const settled = done.then(() => undefined, () => undefined)
  closing.set(dir, settled)
  void settled.then(() => { if (closing.get(dir) === settled) closing.delete(dir) })
}

/** Wait (at most CLOSE_WAIT_MS) for a broker that is closing `dir`; `onWait` runs first when there is one. */
export async function awaitClosing (dir: string, onWait: () => void): Promise<void> {
  const p = closing.get(dir)
  if (p === undefined) return
  onWait()
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p, new Promise((resolve) => { timer = setTimeout(resolve, CLOSE_WAIT_MS) })])
  clearTimeout(timer)
}

/** FilePersistence's errors for a folder another broker holds (this process, or another one). */
/** Another broker holds the folder (the core's StoreError code), as opposed to a folder that cannot be used at all. */
export function isBusy (err: Error): boolean {
  return (err as { code?: unknown }).code === 'HEARTH_STORE_BUSY'
}

/** Why the folder cannot be used, without the folder's name (the node's message names it once). */
export function storeProblem (err: Error): string {
  const reason = (err as { reason?: unknown }).reason
  return typeof reason === 'string' ? reason : err.message
}

/** Retry `open` while it fails with a busy folder, for at most BUSY_RETRY_MS, unless `stop()` says so. */
export async function retryBusy<T> (open: () => Promise<T>, stop: () => boolean, onWait: () => void): Promise<T> {
  const deadline = Date.now() + BUSY_RETRY_MS
  let waited = false
  for (;;) {
    try {
      return await open()
    } catch (err) {
      if (!(err instanceof Error) || !isBusy(err) || Date.now() >= deadline || stop()) throw err
      if (!waited) onWait()
      waited = true
      await new Promise((resolve) => setTimeout(resolve, BUSY_STEP_MS))
    }
  }
}
