/** Options and statistics of FilePersistence. */

export interface FilePersistenceOptions {
  /** Directory for the store; created if missing. One directory per broker. */
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
  /** Called for recovered corruption and I/O failures. Default: process.emitWarning. */
  onWarning?: (msg: string, err?: Error) => void
  /** The log is compacted only once it is at least this many bytes. Default 8 MiB. */
  compactThreshold?: number
  /** ...and at least this many times the size of the live state. Default 2. */
  compactRatio?: number
}

export interface FilePersistenceStats {
  generation: number
  fileBytes: number
  liveBytes: number
  writes: number
  syncs: number
  compactions: number
}
