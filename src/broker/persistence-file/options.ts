/** Options and statistics of FilePersistence. */

export interface FilePersistenceOptions {
  /** Directory for the store; created (mode 0700) if missing. One directory per broker. */
  dir: string
  /**
   * 'always' (default): `sync()` resolves only after an fdatasync, so whatever the broker
   * acknowledges survives a power loss. 'periodic': `sync()` waits only for the write to reach
   * the OS (so acknowledged work survives a crash of the process), and records are fdatasync'd
   * every `flushInterval` ms, so a power loss or OS crash can lose that much acknowledged work.
   */
  syncMode?: 'always' | 'periodic'
  /** Milliseconds between fdatasyncs in 'periodic' mode. Default 1000. */
  flushInterval?: number
  /** Called for recovered corruption, refusals and I/O failures. Default: process.emitWarning. */
  onWarning?: (msg: string, err?: Error) => void
  /** The log is compacted only once it is at least this many bytes. Default 8 MiB. */
  compactThreshold?: number
  /** ...and at least this many times the size of the live state. Default 2. */
  compactRatio?: number
  /**
   * Bound on the live state: about the bytes a compacted log takes (each message once, plus
   * sessions, subscriptions and queued-message records). An addition that would pass it (a
   * retained message, a message queued for a persistent session, a subscription) is refused:
   * the broker drops the message (reason 'persistence-full', counted) or refuses the
   * subscription. The log is compacted by the time it reaches max(2, compactRatio) × this (and
   * additions are refused if it ever reaches one more × this without a compaction), so the folder
   * stays under about (max(2, compactRatio) + 2) × this + compactThreshold + maxPendingBytes.
   * Default 1 GiB.
   */
  maxStoreBytes?: number
  /**
   * Bound on records made but not yet written (a slow or failing disk). `sync()` waits for
   * them, which holds back the acknowledgements of QoS 1/2 publishers; additions made while this
   * much is waiting are refused as above. Default 64 MiB.
   */
  maxPendingBytes?: number
}

export interface FilePersistenceStats {
  generation: number
  /** Size of the current log file. */
  fileBytes: number
  /** Approximate size of the live state (what maxStoreBytes bounds). */
  liveBytes: number
  /** Records made and not yet written (what maxPendingBytes bounds). */
  pendingBytes: number
  /** Distinct messages stored (each once, however many sessions owe it). */
  messages: number
  writes: number
  syncs: number
  compactions: number
  /** Additions refused because a bound was reached. */
  refused: number
  /** How long the writes of batches to the log took. */
  writeTime: DurationStats
  /** How long the fdatasyncs of the log (and of compacted files) took. */
  syncTime: DurationStats
}

/** Durations of one kind of operation, cumulative: a Prometheus histogram. */
export interface DurationStats {
  count: number
  /** Seconds, every operation together. */
  sum: number
  /** Upper bounds in seconds, ascending (+Inf implied). */
  bounds: readonly number[]
  /** Cumulative: buckets[i] operations took at most bounds[i] seconds. */
  buckets: number[]
}
