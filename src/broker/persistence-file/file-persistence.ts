/**
 * FilePersistence: durable broker state in one directory, in pure JavaScript (node:fs only).
 *
 * Layout of `dir`:
 *   hearth-<generation>.log              the live log: a header record, then records (see codec.ts)
 *   hearth-<generation>.log.tmp          a compaction in progress (deleted at open)
 *   hearth-<generation>.damaged-<time>   bytes of a damaged log set aside at open (see log-files.ts)
 *   hearth.lock                          the process using the directory (see lock.ts)
 *
 * Files are created 0600, a directory FilePersistence creates 0700.
 *
 * Mutations update an in-memory mirror (live-state.ts; each message once, referenced by the
 * retained slot and the sessions that owe it) and append an encoded record to a buffer; the
 * writing, group commit and compaction are in log-writer.ts. Additions are refused past the
 * bounds on the live state, the unwritten buffer and the file (admit()).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { StoreError } from '../errors'
import type { Persistence, PersistedState, StoredMessage, StoredOutgoing, StoredSession, StoredSessionMeta, OutgoingState } from '../persistence'
import { copyMeta, copySubscription } from '../persistence'
import type { SubscriptionOptions } from '../types'
import {
  REC, encodeMessage, encodeRetainRef, encodeKey, encodeSaveSession, encodeSaveMeta, encodeAddSubscription,
  encodeRemoveSubscription, encodeAddOutgoing, encodeUpdateOutgoing, encodeRemoveOutgoing, encodeIncoming, type OutgoingFields,
} from './codec'
import { RecordBuffer } from './record-buffer'
import { LiveState, messageSize, outgoingSize, subscriptionSize, RETAINED_REF_SIZE, type MessageEntry } from './live-state'
import { openLog } from './log-files'
import { LogWriter, asError } from './log-writer'
import type { FilePersistenceOptions, FilePersistenceStats } from './options'
import { closeQuiet, unlinkQuiet, DIR_MODE } from './fs-util'
import { acquireLock } from './lock'

export type { FilePersistenceOptions, FilePersistenceStats } from './options'

/** Directories open in this process: two brokers must never share one. */
const openDirs = new Set<string>()

function positive (v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback
  if (typeof v !== 'number' || !(v > 0)) throw new RangeError(`FilePersistence: ${name} must be a positive number of bytes, got ${String(v)}`)
  return v
}

export class FilePersistence extends LogWriter implements Persistence {
  private readonly flushInterval: number
  private readonly maxStoreBytes: number
  private readonly maxPendingBytes: number
  /** Past this file size additions are refused too (compaction is not keeping up or failing). */
  private readonly maxFileBytes: number

  private timer: NodeJS.Timeout | null = null
  private opening = false
  private warnedClosed = false
  /** When a refusal was last warned about (at most one warning a minute). */
  private refusalWarnedAt = -Infinity

  constructor (options: FilePersistenceOptions) {
    if (typeof options?.dir !== 'string' || options.dir === '') throw new TypeError('FilePersistence: options.dir is required')
    const syncMode = options.syncMode ?? 'always'
    if (syncMode !== 'always' && syncMode !== 'periodic') throw new TypeError(`FilePersistence: unknown syncMode ${String(syncMode)}`)
    super(path.resolve(options.dir), syncMode, options.compactThreshold ?? 8 * 1024 * 1024, options.compactRatio ?? 2,
      options.onWarning ?? ((msg: string) => { process.emitWarning(msg, 'HearthPersistenceWarning') }))
    this.flushInterval = options.flushInterval ?? 1000
    this.maxStoreBytes = positive(options.maxStoreBytes, 1024 * 1024 * 1024, 'maxStoreBytes')
    this.maxPendingBytes = positive(options.maxPendingBytes, 64 * 1024 * 1024, 'maxPendingBytes')
    this.maxFileBytes = this.compactThreshold + (Math.max(2, this.compactRatio) + 1) * this.maxStoreBytes
  }

  private get lockPath (): string { return path.join(this.dir, 'hearth.lock') }

  stats (): FilePersistenceStats {
    return {
      generation: this.gen,
      fileBytes: this.pos,
      liveBytes: this.state.liveBytes,
      pendingBytes: this.pending.len,
      messages: this.state.messages.size,
      ...this.counters,
      writeTime: this.writeTime.stats(),
      syncTime: this.syncTime.stats(),
    }
  }

  // ------------------------------------------------------------------------------ open / close

  async open (): Promise<PersistedState> {
    if (this.fd !== null || this.opening) throw new StoreError('HEARTH_STORE_BUSY', this.dir, 'this store is already open')
    if (openDirs.has(this.dir)) throw new StoreError('HEARTH_STORE_BUSY', this.dir, 'it is already open in this process')
    this.opening = true
    openDirs.add(this.dir)
    let locked = false
    try {
      try {
        await fs.promises.mkdir(this.dir, { recursive: true, mode: DIR_MODE }) // an existing folder keeps its mode
        await acquireLock(this.lockPath)
        locked = true
      } catch (err) {
        const busy = (err as { code?: unknown }).code === 'HEARTH_PERSISTENCE_LOCKED'
        throw new StoreError(busy ? 'HEARTH_STORE_BUSY' : 'HEARTH_STORE_UNUSABLE', this.dir, asError(err).message, err)
      }
      let log
      try {
        log = await openLog(this.dir, this.state, this.warn)
      } catch (err) {
        throw new StoreError('HEARTH_STORE_UNUSABLE', this.dir, asError(err).message, err)
      }
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

  /**
   * Whether an addition of about `bytes` to the live state may go in: false (counted, warned
   * at most once a minute) when the live state, the unwritten buffer or the file has reached its bound.
   */
  private admit (bytes: number): boolean {
    const waiting = this.pending.len + (this.carry?.len ?? 0)
    let full: string | undefined
    if (this.state.liveBytes + bytes > this.maxStoreBytes) full = `the live state would pass maxStoreBytes (${this.maxStoreBytes} bytes)`
    else if (waiting >= this.maxPendingBytes) full = `${waiting} bytes wait to be written (maxPendingBytes ${this.maxPendingBytes})`
    else if (this.pos >= this.maxFileBytes) full = `the log has grown to ${this.pos} bytes without a compaction`
    if (full === undefined) return true
    this.counters.refused++
    if (Date.now() - this.refusalWarnedAt >= 60000) {
      this.refusalWarnedAt = Date.now()
      this.warn(`FilePersistence: ${this.dir} is full: ${full}. New retained messages, queued messages and subscriptions are refused until it drains`)
    }
    return false
  }

  /** The entry of `m`, stored now (one record) if it is new. */
  private entry (m: StoredMessage, retained: boolean): MessageEntry {
    const known = this.state.entryOf(m)
    if (known !== undefined) {
      if (retained && this.state.setRetained(known)) this.record(w => encodeRetainRef(w, known.id))
      return known
    }
    const e = this.state.newEntry(m)
    this.record(w => encodeMessage(w, retained ? REC.RETAINED : REC.MESSAGE, e.id, m))
    if (retained) this.state.setRetained(e)
    return e
  }

  setRetained (message: StoredMessage): boolean {
    if (this.notOpen()) return true
    const known = this.state.entryOf(message)
    const old = this.state.retained.get(message.topic)
    if (old === known && known !== undefined) return true
    // Replacing a retained message frees the old one (unless a session still owes it).
    const freed = old === undefined ? -RETAINED_REF_SIZE : old.refs === 1 ? old.size : 0
    if (!this.admit((known === undefined ? messageSize(message) : 0) - freed)) return false
    this.entry(message, true)
    return true
  }

  deleteRetained (topic: string): void {
    if (this.notOpen()) return
    if (this.state.deleteRetained(topic)) this.record(w => encodeKey(w, REC.DELETE_RETAINED, topic))
  }

  saveSession (session: StoredSessionMeta | StoredSession): void {
    if (this.notOpen()) return
    const meta = copyMeta(session)
    if ('subscriptions' in session) {
      const subs = session.subscriptions.map(copySubscription)
      this.state.saveSession(meta, subs)
      this.record(w => encodeSaveSession(w, meta, subs, subs.length))
    } else {
      this.state.saveSession(meta)
      this.record(w => encodeSaveMeta(w, meta))
    }
  }

  addSubscription (clientId: string, subscription: SubscriptionOptions): boolean {
    if (this.notOpen()) return true
    const s = this.state.sessions.get(clientId)
    if (s === undefined) return true
    const sub = copySubscription(subscription)
    if (!s.subs.has(sub.topic) && !this.admit(subscriptionSize(clientId, sub.topic))) return false
    this.state.addSubscription(s, sub)
    this.record(w => encodeAddSubscription(w, clientId, sub))
    return true
  }

  removeSubscription (clientId: string, topic: string): void {
    if (this.notOpen()) return
    if (this.state.removeSubscription(clientId, topic)) this.record(w => encodeRemoveSubscription(w, clientId, topic))
  }

  deleteSession (clientId: string): void {
    if (this.notOpen()) return
    if (this.state.deleteSession(clientId)) this.record(w => encodeKey(w, REC.DELETE_SESSION, clientId))
  }

  addOutgoing (clientId: string, outgoing: StoredOutgoing): boolean {
    if (this.notOpen() || !this.state.sessions.has(clientId)) return true
    const known = this.state.entryOf(outgoing.message)
    if (!this.admit((known === undefined ? messageSize(outgoing.message) : 0) + outgoingSize(clientId, outgoing.subscriptionIdentifiers))) return false
    const e = this.entry(outgoing.message, false)
    const f: OutgoingFields = {
      seq: outgoing.seq,
      state: outgoing.state,
      packetId: outgoing.packetId,
      qos: outgoing.qos,
      retain: outgoing.retain,
      subIds: outgoing.subscriptionIdentifiers !== undefined ? [...outgoing.subscriptionIdentifiers] : undefined,
    }
    this.state.addOutgoing(clientId, f, e)
    this.record(w => encodeAddOutgoing(w, clientId, f, e.id))
    return true
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
}
