/**
 * The writing side of FilePersistence: group commit and compaction over the current log file.
 *
 * Mutations append encoded records to `pending` (see record()); a flush writes the buffer at the
 * end of the log. `sync()` is group commit: one fdatasync covers every record buffered before it
 * started, and records that arrive while it runs wait for the next. Compaction writes the mirror
 * to the next generation's file (tmp, fdatasync, rename, fsync of the directory), then appends
 * the records made meanwhile (the carry) and switches over. A failed write is repaired the same
 * way: the file is rewritten from the mirror.
 */
import * as fs from 'node:fs'
import { RecordBuffer } from './record-buffer'
import { LiveState } from './live-state'
import { logPath } from './log-files'
import { writeSnapshot, Aborted } from './snapshot'
import { openFile, fdatasync, closeQuiet, unlinkQuiet, fsyncDir, writeAll } from './fs-util'
import { Durations } from './timing'

/** A sync() caller; `durable` ones also wait for the fdatasync (always mode). */
interface Waiter { resolve: () => void, reject: (err: Error) => void, durable: boolean }

const REPAIR_RETRY_MS = 1000

export function asError (err: unknown): Error { return err instanceof Error ? err : new Error(String(err)) }

export abstract class LogWriter {
  protected fd: number | null = null
  protected gen = 0
  protected pos = 0
  protected state = new LiveState()
  protected pending = new RecordBuffer()
  protected waiters: Waiter[] = []
  /** A batch is being written (periodic mode's sync() waits for it). */
  protected writing = false
  /** While a compaction runs: copies of the records made since its snapshot. */
  protected carry: RecordBuffer | null = null
  /** Bytes were handed to the current file that no completed fdatasync covers. */
  protected unsynced = false
  protected flushQueued = false
  /** The queued flush must fdatasync even without waiters (periodic timer). */
  protected forceNext = false
  protected lane: Promise<void> = Promise.resolve()
  protected compaction: Promise<void> | null = null
  protected abortCompaction = false
  protected nextCompactAt = 0
  /** Set when a write or fdatasync failed: the file is rewritten from the mirror before anything else. */
  protected broken: Error | null = null
  protected repairFailedAt = 0
  protected closing = false
  protected counters = { writes: 0, syncs: 0, compactions: 0, refused: 0 }
  protected readonly writeTime = new Durations()
  protected readonly syncTime = new Durations()

  constructor (
    readonly dir: string,
    protected readonly syncMode: 'always' | 'periodic',
    protected readonly compactThreshold: number,
    protected readonly compactRatio: number,
    protected readonly warn: (msg: string, err?: Error) => void,
  ) {}

  protected file (gen: number): string { return logPath(this.dir, gen) }

  /** Encode one record into the pending buffer (and the compaction's carry), then schedule a write. */
  protected record (encode: (w: RecordBuffer) => void): void {
    const start = this.pending.len
    encode(this.pending)
    if (this.carry !== null) this.carry.append(this.pending.buf.subarray(start, this.pending.len))
    this.schedule(false)
  }

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
  protected enqueue (task: () => Promise<void>): Promise<void> {
    const p = this.lane.then(task)
    this.lane = p.then(() => {}, () => {})
    return p
  }

  /**
   * Queue one flush, at most one at a time: records made before it starts join it, so a burst
   * of mutations (one socket read, many clients in one poll phase) shares one write and fsync.
   */
  protected schedule (forceSync: boolean): void {
    if (forceSync) this.forceNext = true
    if (this.flushQueued) return
    this.flushQueued = true
    setImmediate(() => {
      this.enqueue(() => this.flushOnce(false)).catch(err => this.warn('FilePersistence: flush failed', asError(err)))
    })
  }

  protected async flushOnce (force: boolean): Promise<void> {
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
          await this.writeTime.time(() => writeAll(fd, batch, this.pos))
        } finally {
          this.writing = false
        }
        this.pos += batch.length
        this.counters.writes++
      }
      if (this.unsynced && (forceSync || waiters.some(w => w.durable))) {
        await this.syncTime.time(() => fdatasync(fd))
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
  protected repair (): void {
    if (this.compaction !== null) return
    if (Date.now() - this.repairFailedAt < REPAIR_RETRY_MS) {
      const err = this.broken ?? new Error('FilePersistence: the store is not writable')
      for (const w of this.waiters.splice(0)) w.reject(err)
      return
    }
    this.startCompaction()
  }

  // ------------------------------------------------------------------------------ compaction

  protected maybeCompact (): void {
    if (this.compaction !== null || this.fd === null || this.closing) return
    if (this.pos < this.compactThreshold || this.pos < this.nextCompactAt) return
    if (this.pos < this.compactRatio * this.state.liveBytes) return
    this.startCompaction()
  }

  protected startCompaction (): void {
    this.compaction = this.compact().finally(() => { this.compaction = null })
  }

  protected async compact (): Promise<void> {
    const gen = this.gen + 1
    const tmp = this.file(gen) + '.tmp'
    const snapshot = this.state.capture()
    this.carry = new RecordBuffer()
    let fd: number | null = null
    try {
      fd = await openFile(tmp, 'w')
      const size = await writeSnapshot(fd, gen, snapshot, () => this.abortCompaction)
      const tmpFd = fd
      await this.syncTime.time(() => fdatasync(tmpFd))
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

  /**
   * On the lane, so no flush runs meanwhile: append what changed since the snapshot, make the new
   * file durable, rename it into place and continue on it. Records still pending are covered
   * (older ones by the snapshot, newer ones by the carry), as are their waiters.
   */
  protected async switchTo (gen: number, fd: number, size: number): Promise<void> {
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
      await this.syncTime.time(() => fdatasync(fd))
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
