/**
 * FilePersistence: durable broker state in one directory, in pure JavaScript (node:fs only).
 *
 * Layout of `dir`:
 *   hearth-<generation>.log   the live log: a header record, then records (see codec.ts)
 *   hearth-<generation>.log.tmp   a compaction in progress (deleted at open)
 *   hearth.lock               pid of the process using the directory
 *
 * Mutations update an in-memory mirror and append an encoded record to a buffer; a flush
 * writes the buffer at the end of the log. `sync()` is group commit: one fdatasync covers every
 * record buffered before it started, and records that arrive while it runs wait for the next.
 * Compaction writes the mirror to the next generation's file (tmp, fdatasync, rename, fsync of
 * the directory), then appends the records made meanwhile and switches over.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import type { Persistence, PersistedState, StoredMessage, StoredOutgoing, StoredSession, OutgoingState } from '../persistence'
import {
  REC, RecordBuffer, encodeHeader, encodeSetRetained, encodeKey, encodeSaveSession, encodeAddOutgoing,
  encodeUpdateOutgoing, encodeRemoveOutgoing, encodeIncoming,
} from './codec'
import { LiveState, copyMessage, copySession, type Snapshot } from './live-state'
import { openLog, logPath } from './log-files'
import type { FilePersistenceOptions, FilePersistenceStats } from './options'
import { openFile, writeAll, fdatasync, closeQuiet, unlinkQuiet, fsyncDir, acquireLock } from './fs-util'

export type { FilePersistenceOptions, FilePersistenceStats } from './options'

/** A sync() caller; `durable` ones also wait for the fdatasync (always mode). */
interface Waiter { resolve: () => void, reject: (err: Error) => void, durable: boolean }

class Aborted extends Error {}

const SNAPSHOT_CHUNK = 1024 * 1024
const REPAIR_RETRY_MS = 1000

/** Directories open in this process: two brokers must never share one. */
const openDirs = new Set<string>()

function asError (err: unknown): Error { return err instanceof Error ? err : new Error(String(err)) }

export class FilePersistence implements Persistence {
  readonly dir: string
  private readonly syncMode: 'always' | 'periodic'
  private readonly flushInterval: number
  private readonly warn: (msg: string, err?: Error) => void
  private readonly compactThreshold: number
  private readonly compactRatio: number

  private fd: number | null = null
  private gen = 0
  private pos = 0
  private state = new LiveState()
  private pending = new RecordBuffer()
  private waiters: Waiter[] = []
  /** A batch is being written (periodic mode's sync() waits for it). */
  private writing = false
  /** While a compaction runs: copies of the records made since its snapshot. */
  private carry: RecordBuffer | null = null
  /** Bytes were handed to the current file that no completed fdatasync covers. */
  private unsynced = false
  private flushQueued = false
  /** The queued flush must fdatasync even without waiters (periodic timer). */
  private forceNext = false
  private lane: Promise<void> = Promise.resolve()
  private compaction: Promise<void> | null = null
  private abortCompaction = false
  private nextCompactAt = 0
  /** Set when a write or fdatasync failed: the file is rewritten from the mirror before anything else. */
  private broken: Error | null = null
  private repairFailedAt = 0
  private timer: NodeJS.Timeout | null = null
  private opening = false
  private closing = false
  private warnedClosed = false
  private counters = { writes: 0, syncs: 0, compactions: 0 }

  constructor (options: FilePersistenceOptions) {
    if (typeof options?.dir !== 'string' || options.dir === '') throw new TypeError('FilePersistence: options.dir is required')
    this.dir = path.resolve(options.dir)
    this.syncMode = options.syncMode ?? 'always'
    if (this.syncMode !== 'always' && this.syncMode !== 'periodic') throw new TypeError(`FilePersistence: unknown syncMode ${String(this.syncMode)}`)
    this.flushInterval = options.flushInterval ?? 1000
    this.warn = options.onWarning ?? ((msg: string) => { process.emitWarning(msg, 'HearthPersistenceWarning') })
    this.compactThreshold = options.compactThreshold ?? 8 * 1024 * 1024
    this.compactRatio = options.compactRatio ?? 2
  }

  private file (gen: number): string { return logPath(this.dir, gen) }
  private get lockPath (): string { return path.join(this.dir, 'hearth.lock') }

  stats (): FilePersistenceStats {
    return { generation: this.gen, fileBytes: this.pos, liveBytes: this.state.liveBytes, ...this.counters }
  }

  // ------------------------------------------------------------------------------ open / close

  async open (): Promise<PersistedState> {
    if (this.fd !== null || this.opening) throw new Error(`FilePersistence: ${this.dir} is already open`)
    if (openDirs.has(this.dir)) throw new Error(`FilePersistence: ${this.dir} is already open in this process`)
    this.opening = true
    openDirs.add(this.dir)
    let locked = false
    try {
      try {
        await fs.promises.mkdir(this.dir, { recursive: true })
        await acquireLock(this.lockPath)
        locked = true
      } catch (err) {
        throw new Error(`FilePersistence: cannot use directory ${this.dir}: ${asError(err).message}`, { cause: err })
      }
      const log = await openLog(this.dir, this.state, this.warn)
      this.fd = log.fd
      this.gen = log.gen
      this.pos = log.pos
    } catch (err) {
      await closeQuiet(this.fd)
      this.fd = null
      if (locked) await unlinkQuiet(this.lockPath)
      openDirs.delete(this.dir)
      this.state = new LiveState()
      throw err
    } finally {
      this.opening = false
    }
    this.warnedClosed = false
    // Expired sessions and messages go now, through ordinary records.
    const purged = this.state.purgeExpired(Date.now())
    for (const id of purged.sessions) this.record(w => encodeKey(w, REC.DELETE_SESSION, id))
    for (const t of purged.retained) this.record(w => encodeKey(w, REC.DELETE_RETAINED, t))
    for (const [id, seq] of purged.outgoing) this.record(w => encodeRemoveOutgoing(w, id, seq))
    if (this.syncMode === 'periodic') {
      this.timer = setInterval(() => { if (this.unsynced || this.pending.len > 0) this.schedule(true) }, this.flushInterval)
      this.timer.unref()
    }
    const result = this.state.toPersisted()
    this.maybeCompact()
    return result
  }

  async close (): Promise<void> {
    if (this.fd === null || this.closing) return
    this.closing = true
    if (this.timer !== null) { clearInterval(this.timer); this.timer = null }
    this.abortCompaction = true
    if (this.compaction !== null) await this.compaction
    this.abortCompaction = false
    for (let round = 0; round < 3; round++) {
      await this.enqueue(() => this.flushOnce(true))
      if (this.compaction !== null) await this.compaction // a repair after a failed write
      if (this.pending.len === 0 && !this.unsynced && this.broken === null) break
    }
    if (this.pending.len > 0 || this.unsynced || this.broken !== null) {
      this.warn(`FilePersistence: closing ${this.file(this.gen)} with changes that could not be saved`, this.broken ?? undefined)
    }
    const err = this.broken ?? new Error('FilePersistence closed')
    for (const w of this.waiters.splice(0)) w.reject(err)
    await closeQuiet(this.fd)
    this.fd = null
    await unlinkQuiet(this.lockPath)
    openDirs.delete(this.dir)
    this.state = new LiveState()
    this.pending = new RecordBuffer()
    this.carry = null
    this.unsynced = false
    this.broken = null
    this.nextCompactAt = 0
    this.closing = false
  }

  // ------------------------------------------------------------------------------ mutations

  private notOpen (): boolean {
    if (this.fd !== null) return false
    if (!this.warnedClosed) {
      this.warnedClosed = true
      this.warn(`FilePersistence: a change was made while ${this.dir} is not open; it is not saved`)
    }
    return true
  }

  /** Encode one record into the pending buffer (and the compaction's carry), then schedule a write. */
  private record (encode: (w: RecordBuffer) => void): void {
    const start = this.pending.len
    encode(this.pending)
    if (this.carry !== null) this.carry.append(this.pending.buf.subarray(start, this.pending.len))
    this.schedule(false)
  }

  setRetained (message: StoredMessage): void {
    if (this.notOpen()) return
    const m = copyMessage(message)
    this.state.setRetained(m)
    this.record(w => encodeSetRetained(w, m))
  }

  deleteRetained (topic: string): void {
    if (this.notOpen()) return
    if (this.state.deleteRetained(topic)) this.record(w => encodeKey(w, REC.DELETE_RETAINED, topic))
  }

  saveSession (session: StoredSession): void {
    if (this.notOpen()) return
    const s = copySession(session)
    this.state.saveSession(s)
    this.record(w => encodeSaveSession(w, s))
  }

  deleteSession (clientId: string): void {
    if (this.notOpen()) return
    if (this.state.deleteSession(clientId)) this.record(w => encodeKey(w, REC.DELETE_SESSION, clientId))
  }

  addOutgoing (clientId: string, outgoing: StoredOutgoing): void {
    if (this.notOpen()) return
    const o: StoredOutgoing = { seq: outgoing.seq, state: outgoing.state, message: copyMessage(outgoing.message) }
    if (outgoing.packetId !== undefined) o.packetId = outgoing.packetId
    if (outgoing.subscriptionIdentifiers !== undefined) o.subscriptionIdentifiers = [...outgoing.subscriptionIdentifiers]
    if (this.state.addOutgoing(clientId, o)) this.record(w => encodeAddOutgoing(w, clientId, o))
  }

  updateOutgoing (clientId: string, seq: number, packetId: number | undefined, state: OutgoingState): void {
    if (this.notOpen()) return
    if (this.state.updateOutgoing(clientId, seq, packetId, state)) this.record(w => encodeUpdateOutgoing(w, clientId, seq, packetId, state))
  }

  removeOutgoing (clientId: string, seq: number): void {
    if (this.notOpen()) return
    if (this.state.removeOutgoing(clientId, seq)) this.record(w => encodeRemoveOutgoing(w, clientId, seq))
  }

  addIncoming (clientId: string, packetId: number): void {
    if (this.notOpen()) return
    if (this.state.addIncoming(clientId, packetId)) this.record(w => encodeIncoming(w, REC.ADD_INCOMING, clientId, packetId))
  }

  removeIncoming (clientId: string, packetId: number): void {
    if (this.notOpen()) return
    if (this.state.removeIncoming(clientId, packetId)) this.record(w => encodeIncoming(w, REC.REMOVE_INCOMING, clientId, packetId))
  }

  // ------------------------------------------------------------------------------ group commit

  sync (): Promise<void> | undefined {
    if (this.fd === null) return undefined
    if (this.syncMode === 'periodic') {
      // Periodic: wait for the write to reach the operating system (so an acknowledged message
      // survives a crash of the process), not for the fdatasync.
      if (this.pending.len === 0 && !this.writing && this.broken === null) return undefined
      return new Promise<void>((resolve, reject) => {
        this.waiters.push({ resolve, reject, durable: false })
        this.schedule(false)
      })
    }
    if (this.pending.len === 0 && !this.unsynced && this.broken === null) return undefined
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject, durable: true })
      this.schedule(false)
    })
  }

  /** Run tasks that touch the current file one at a time, in order. */
  private enqueue (task: () => Promise<void>): Promise<void> {
    const p = this.lane.then(task)
    this.lane = p.then(() => {}, () => {})
    return p
  }

  /**
   * Queue one flush, at most one at a time: records made before it starts join it, so a burst
   * of mutations (one socket read, many clients in one poll phase) shares one write and fsync.
   */
  private schedule (forceSync: boolean): void {
    if (forceSync) this.forceNext = true
    if (this.flushQueued) return
    this.flushQueued = true
    setImmediate(() => {
      this.enqueue(() => this.flushOnce(false)).catch(err => this.warn('FilePersistence: flush failed', asError(err)))
    })
  }

  private async flushOnce (force: boolean): Promise<void> {
    this.flushQueued = false
    const forceSync = force || this.forceNext
    this.forceNext = false
    const fd = this.fd
    if (fd === null) return
    if (this.broken !== null) { this.repair(); return }
    const batch = this.pending.take()
    const waiters = this.waiters
    this.waiters = []
    if (batch !== null) this.unsynced = true
    try {
      if (batch !== null) {
        this.writing = true
        try {
          await writeAll(fd, batch, this.pos)
        } finally {
          this.writing = false
        }
        this.pos += batch.length
        this.counters.writes++
      }
      if (this.unsynced && (forceSync || waiters.some(w => w.durable))) {
        await fdatasync(fd)
        this.unsynced = false
        this.counters.syncs++
      }
    } catch (err) {
      // The file may now end in part of `batch`. The mirror has it all: rewrite the file from it.
      this.broken = asError(err)
      this.warn(`FilePersistence: writing ${this.file(this.gen)} failed (${this.broken.message}); rewriting it from memory`, this.broken)
      this.waiters.unshift(...waiters)
      this.repair()
      return
    }
    for (const w of waiters) w.resolve()
    this.maybeCompact()
  }

  /** After a failed write: a compaction writes a complete new file; its switch resolves the waiters. */
  private repair (): void {
    if (this.compaction !== null) return
    if (Date.now() - this.repairFailedAt < REPAIR_RETRY_MS) {
      const err = this.broken ?? new Error('FilePersistence: the store is not writable')
      for (const w of this.waiters.splice(0)) w.reject(err)
      return
    }
    this.startCompaction()
  }

  // ------------------------------------------------------------------------------ compaction

  private maybeCompact (): void {
    if (this.compaction !== null || this.fd === null || this.closing) return
    if (this.pos < this.compactThreshold || this.pos < this.nextCompactAt) return
    if (this.pos < this.compactRatio * this.state.liveBytes) return
    this.startCompaction()
  }

  private startCompaction (): void {
    this.compaction = this.compact().finally(() => { this.compaction = null })
  }

  private async compact (): Promise<void> {
    const gen = this.gen + 1
    const tmp = this.file(gen) + '.tmp'
    const snapshot = this.state.capture()
    this.carry = new RecordBuffer()
    let fd: number | null = null
    try {
      fd = await openFile(tmp, 'w')
      const size = await this.writeSnapshot(fd, gen, snapshot)
      await fdatasync(fd)
      const newFd = fd
      await this.enqueue(() => this.switchTo(gen, newFd, size))
      fd = null
    } catch (err) {
      this.carry = null
      await closeQuiet(fd)
      await unlinkQuiet(tmp)
      if (err instanceof Aborted) return
      this.warn(`FilePersistence: compaction of ${this.file(this.gen)} failed: ${asError(err).message}`, asError(err))
      this.nextCompactAt = this.pos + Math.max(this.compactThreshold, this.pos / 2)
      if (this.broken !== null) {
        this.repairFailedAt = Date.now()
        for (const w of this.waiters.splice(0)) w.reject(this.broken)
      }
    }
  }

  /** Write the records that rebuild `snap`, in chunks so the event loop keeps turning. */
  private async writeSnapshot (fd: number, gen: number, snap: Snapshot): Promise<number> {
    const w = new RecordBuffer()
    let pos = 0
    const flush = async (): Promise<void> => {
      const b = w.take()
      if (b !== null) { await writeAll(fd, b, pos); pos += b.length }
      if (this.abortCompaction) throw new Aborted()
    }
    encodeHeader(w, gen)
    for (const m of snap.retained) {
      encodeSetRetained(w, m)
      if (w.len >= SNAPSHOT_CHUNK) await flush()
    }
    for (const s of snap.sessions) {
      const id = s.meta.clientId
      encodeSaveSession(w, s.meta)
      for (const o of s.outgoing) {
        encodeAddOutgoing(w, id, o)
        if (w.len >= SNAPSHOT_CHUNK) await flush()
      }
      for (const p of s.incoming) encodeIncoming(w, REC.ADD_INCOMING, id, p)
      if (w.len >= SNAPSHOT_CHUNK) await flush()
    }
    await flush()
    return pos
  }

  /**
   * On the lane, so no flush runs meanwhile: append what changed since the snapshot, make the new
   * file durable, rename it into place and continue on it. Records still pending are covered
   * (older ones by the snapshot, newer ones by the carry), as are their waiters.
   */
  private async switchTo (gen: number, fd: number, size: number): Promise<void> {
    const carry = this.carry as RecordBuffer
    this.carry = null
    const taken = this.pending.take()
    const waiters = this.waiters
    this.waiters = []
    this.unsynced = true
    let pos = size
    const target = this.file(gen)
    try {
      const c = carry.take()
      if (c !== null) { await writeAll(fd, c, pos); pos += c.length }
      await fdatasync(fd)
      await fs.promises.rename(target + '.tmp', target)
    } catch (err) {
      if (taken !== null) this.pending.prepend(taken)
      this.waiters.unshift(...waiters)
      throw err
    }
    // Renamed: from here the new file is the store, whatever happens.
    try { await fsyncDir(this.dir) } catch (err) {
      this.warn(`FilePersistence: fsync of directory ${this.dir} failed`, asError(err))
    }
    const oldFd = this.fd
    const oldFile = this.file(this.gen)
    this.fd = fd
    this.gen = gen
    this.pos = pos
    this.unsynced = false
    this.broken = null
    this.nextCompactAt = 2 * pos // bounds write amplification whatever the size estimates say
    this.counters.syncs++
    this.counters.compactions++
    for (const w of waiters) w.resolve()
    await closeQuiet(oldFd)
    await unlinkQuiet(oldFile)
    if (this.pending.len > 0 || this.waiters.length > 0) this.schedule(false)
  }
}
