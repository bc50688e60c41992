/**
 * Writing a whole store: the records that rebuild a Snapshot of the live state, each message
 * once, in chunks so the event loop keeps turning. Used by compaction and by the rewrite of a
 * damaged or older-format file at open.
 */
import { REC, encodeHeader, encodeMessage, encodeSaveSession, encodeAddOutgoing, encodeIncoming } from './codec'
import { RecordBuffer } from './record-buffer'
import type { Snapshot } from './live-state'
import { writeAll } from './fs-util'

const SNAPSHOT_CHUNK = 1024 * 1024

/** Thrown by writeSnapshot when `aborted()` says so. */
export class Aborted extends Error {}

/** Write generation `gen`'s header and the records of `snap` into `fd` from offset 0; returns the bytes written. */
export async function writeSnapshot (fd: number, gen: number, snap: Snapshot, aborted: () => boolean = () => false): Promise<number> {
  const w = new RecordBuffer()
  let pos = 0
  const flush = async (): Promise<void> => {
    const b = w.take()
    if (b !== null) { await writeAll(fd, b, pos); pos += b.length }
    if (aborted()) throw new Aborted()
  }
  encodeHeader(w, gen)
  // Messages first (a retained one in the same record as its retained slot), then who owes them.
  for (const e of snap.messages) {
    encodeMessage(w, snap.retained.has(e) ? REC.RETAINED : REC.MESSAGE, e.id, e.msg)
    if (w.len >= SNAPSHOT_CHUNK) await flush()
  }
  for (const s of snap.sessions) {
    const id = s.meta.clientId
    encodeSaveSession(w, s.meta, s.subs, s.subs.length)
    for (const o of s.outgoing) {
      encodeAddOutgoing(w, id, o, o.entry.id)
      if (w.len >= SNAPSHOT_CHUNK) await flush()
    }
    for (const p of s.incoming) encodeIncoming(w, REC.ADD_INCOMING, id, p)
    if (w.len >= SNAPSHOT_CHUNK) await flush()
  }
  await flush()
  return pos
}
