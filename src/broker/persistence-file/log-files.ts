/**
 * The log files of a FilePersistence directory: finding the current one at open, replaying it,
 * dealing with damage, and creating a fresh one.
 *
 *   hearth-<generation>.log                  the live log (the highest generation wins)
 *   hearth-<generation>.log.tmp              a compaction that did not finish (deleted at open)
 *   hearth-<generation>.damaged-<time>       bytes of a damaged log that held no valid record, kept
 *                                            for inspection (never read by Hearth)
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { encodeHeader, FORMAT_VERSION } from './codec'
import { RecordBuffer } from './record-buffer'
import { recover, FormatVersionError, type RecoveryResult } from './recovery'
import { writeSnapshot } from './snapshot'
import { openFile, writeAll, fdatasync, closeQuiet, unlinkQuiet, fsyncDir, ftruncate, readAt, restrictMode } from './fs-util'
import { running } from './lock'
import type { LiveState } from './live-state'

const LOG_RE = /^hearth-(\d+)\.log$/
const TMP_RE = /^hearth-\d+\.log\.tmp$/
/** Private files of lock takers that died before removing them. */
const LOCK_LEFTOVER_RE = /^hearth\.lock\.(?:stale-)?(\d+)-[0-9a-f]+$/

export function logPath (dir: string, gen: number): string { return path.join(dir, `hearth-${gen}.log`) }

export interface OpenLog { fd: number, gen: number, pos: number }

function headerBytes (gen: number): Buffer {
  const w = new RecordBuffer()
  encodeHeader(w, gen)
  return w.take() as Buffer
}

/** Write `write`'s output as the log of generation `gen` (.tmp, synced, renamed into place) and open it. */
async function writeLog (dir: string, gen: number, write: (fd: number) => Promise<number>): Promise<OpenLog> {
  const file = logPath(dir, gen)
  const tmp = await openFile(file + '.tmp', 'w')
  let size: number
  try {
    size = await write(tmp)
    await fdatasync(tmp)
  } finally { await closeQuiet(tmp) }
  await fs.promises.rename(file + '.tmp', file)
  await fsyncDir(dir)
  return { fd: await openFile(file, 'r+'), gen, pos: size }
}

/** A new log holding only its header. */
async function createLog (dir: string, gen: number): Promise<OpenLog> {
  return await writeLog(dir, gen, async fd => { const h = headerBytes(gen); await writeAll(fd, h, 0); return h.length })
}

/** Copy the damaged ranges into a side file; returns its path and size, or undefined when they hold only zeros. */
async function setAside (dir: string, gen: number, fd: number, res: RecoveryResult): Promise<{ file: string, bytes: number } | undefined> {
  const parts: Buffer[] = []
  let zero = true
  for (const d of res.damaged) {
    const b = Buffer.alloc(d.end - d.start)
    let got = 0
    while (got < b.length) {
      const n = await readAt(fd, b, got, b.length - got, d.start + got)
      if (n === 0) break
      got += n
    }
    if (zero && b.some(x => x !== 0)) zero = false
    parts.push(b.subarray(0, got))
  }
  if (zero) return undefined // space a write never reached (a crash): nothing to keep
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  for (let n = 0; ; n++) {
    const file = path.join(dir, `hearth-${gen}.damaged-${stamp}${n > 0 ? `-${n}` : ''}`)
    let out: number
    try { out = await openFile(file, 'wx') } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && n < 100) continue
      throw err
    }
    try {
      let pos = 0
      for (const b of parts) { await writeAll(out, b, pos); pos += b.length }
      await fdatasync(out)
      return { file, bytes: pos }
    } finally { await closeQuiet(out) }
  }
}

function plural (n: number, what: string): string { return `${n} ${what}${n === 1 ? '' : 's'}` }

function ranges (res: RecoveryResult): string {
  const list = res.damaged.slice(0, 5).map(d => `${d.start}–${d.end}`).join(', ')
  return res.damaged.length > 5 ? `${list} and ${res.damaged.length - 5} more` : list
}

/**
 * Open the newest log of `dir` and replay it into `state`; create one if there is none.
 * A torn tail is cut off. Damaged bytes are copied to a side file and every valid record after
 * them is kept; when valid records follow damage (or the file is in the older format 1) the
 * log is rewritten from the replayed state as the next generation, so that it holds no damage.
 * Everything is reported through `warn`. Throws only when the file cannot be read at all or is
 * in a newer format.
 */
export async function openLog (dir: string, state: LiveState, warn: (msg: string) => void): Promise<OpenLog> {
  const names = await fs.promises.readdir(dir)
  for (const n of names) {
    const m = LOCK_LEFTOVER_RE.exec(n)
    if (TMP_RE.test(n) || (m !== null && !running(Number(m[1])))) await unlinkQuiet(path.join(dir, n))
  }
  const gens = names.map(n => LOG_RE.exec(n)).filter((m): m is RegExpExecArray => m !== null).map(m => Number(m[1])).sort((a, b) => a - b)
  if (gens.length === 0) return await createLog(dir, 1)
  const gen = gens[gens.length - 1]
  const file = logPath(dir, gen)
  const fd = await openFile(file, 'r+')
  let result: OpenLog | undefined
  try {
    await restrictMode(fd)
    let res: RecoveryResult
    try {
      res = await recover(fd, state)
    } catch (err) {
      if (err instanceof FormatVersionError) throw new Error(`FilePersistence: cannot read ${file}: ${err.message}`)
      throw new Error(`FilePersistence: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    const notes: string[] = []
    if (res.damaged.length > 0) {
      const aside = await setAside(dir, gen, fd, res)
      const lost = res.damaged.reduce((n, d) => n + d.end - d.start, 0)
      notes.push(`${res.damaged[0].reason}. ${lost} damaged bytes (at ${ranges(res)}) ` +
        (aside !== undefined ? `were set aside in ${aside.file}` : 'held only zeros and were dropped') +
        `; kept ${plural(Math.max(0, res.records - (res.headerValid ? 1 : 0)), 'valid record')}, ${res.afterDamage} of them after the damage` +
        (res.unresolved + res.orphans > 0 ? ` (${plural(res.unresolved + res.orphans, 'record')} that depended on lost ones dropped)` : ''))
    }
    if (res.tail !== undefined) {
      notes.push(`${res.tail.reason}. Kept the ${Math.max(0, res.records - 1)} valid records before it ` +
        `(${res.goodEnd} bytes); dropped the remaining ${res.size - res.tail.start} bytes.`)
    }
    if (notes.length > 0) warn(`FilePersistence: ${file}: ${notes.join(' ')}`)
    if (res.afterDamage > 0 || !res.headerValid || res.version !== FORMAT_VERSION) {
      // Rewrite the whole store from what was replayed, in the current format, with no damage in it.
      const next = await writeLog(dir, gen + 1, async out => await writeSnapshot(out, gen + 1, state.capture()))
      await closeQuiet(fd)
      await unlinkQuiet(file)
      result = next
    } else if (res.goodEnd < res.size) {
      await ftruncate(fd, res.goodEnd)
      await fdatasync(fd)
      result = { fd, gen, pos: res.goodEnd }
    } else {
      result = { fd, gen, pos: res.size }
    }
    for (const g of gens) if (g !== gen) await unlinkQuiet(logPath(dir, g)) // superseded by a finished compaction
    return result
  } catch (err) {
    if (result === undefined) await closeQuiet(fd)
    throw err
  }
}
