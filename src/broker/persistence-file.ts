/**
 * File-based persistence: an append-only log of checksummed records with compaction, in pure
 * JavaScript. See persistence-file/file-persistence.ts for the design and codec.ts for the format.
 */
export { FilePersistence } from './persistence-file/file-persistence'
export type { FilePersistenceOptions } from './persistence-file/file-persistence'
