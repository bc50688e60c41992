/**
 * The log files of a FilePersistence directory: finding the current one at open, replaying it,
 * cutting off a bad tail, and creating a fresh one.
 *
 *   hearth-<generation>.log        the live log (the highest generation wins)
 *   hearth-<generation>.log.tmp    a compaction that did not finish (deleted at open)
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { RecordBuffer, encodeHeader } from './codec'
import { recover, FormatVersionError } from './recovery'
import { openFile, writeAll, fdatasync, closeQuiet, unlinkQuiet, fsyncDir, ftruncate } from './fs-util'
import type { LiveState } from './live-state'

const LOG_RE = /^hearth-(\d+)\.log$/
const TMP_RE = /^hearth-\d+\.log\.tmp$/

export function logPath (dir: string, gen: number): string { return path.join(dir, `hearth-${gen}.log`) }

export interface OpenLog { fd: number, gen: number, pos: number }

function headerBytes (gen: number): Buffer {
  const w = new RecordBuffer()
  encodeHeader(w, gen)
  return w.take() as Buffer
}

/** A new log holding only its header, written as .tmp, synced, renamed into place. */
export async function createLog (dir: string, gen: number): Promise<OpenLog> {
  const file = logPath(dir, gen)
  const header = headerBytes(gen)
  const tmp = await openFile(file + '.tmp', 'w')
  try {
    await writeAll(tmp, header, 0)
    await fdatasync(tmp)
  } finally { await closeQuiet(tmp) }
  await fs.promises.rename(file + '.tmp', file)
  await fsyncDir(dir)
  return { fd: await openFile(file, 'r+'), gen, pos: header.length }
}

/**
 * Open the newest log of `dir` and replay it into `state`; create one if there is none. A bad or
 * truncated tail is reported through `warn` and cut off, so that appends follow valid records.
 * Throws only when the file cannot be read at all or is in a newer format.
 */
export async function openLog (dir: string, state: LiveState, warn: (msg: string) => void): Promise<OpenLog> {
  const names = await fs.promises.readdir(dir)
  for (const n of names) if (TMP_RE.test(n)) await unlinkQuiet(path.join(dir, n))
  const gens = names.map(n => LOG_RE.exec(n)).filter((m): m is RegExpExecArray => m !== null).map(m => Number(m[1])).sort((a, b) => a - b)
  if (gens.length === 0) return await createLog(dir, 1)
  const gen = gens[gens.length - 1]
  const file = logPath(dir, gen)
  const fd = await openFile(file, 'r+')
  try {
    let res
    try {
      res = await recover(fd, state)
    } catch (err) {
      if (err instanceof FormatVersionError) throw new Error(`FilePersistence: cannot read ${file}: ${err.message}`)
      throw new Error(`FilePersistence: cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    let pos = res.goodEnd
    if (res.problem !== undefined) {
      warn(`FilePersistence: ${file}: ${res.problem}. Kept the ${Math.max(0, res.records - 1)} valid records before it ` +
        `(${res.goodEnd} bytes); dropped the remaining ${res.size - res.goodEnd} bytes.`)
      if (res.headerEnd === 0) { // nothing valid at all: start the file over
        const header = headerBytes(gen)
        await ftruncate(fd, 0)
        await writeAll(fd, header, 0)
        pos = header.length
      } else {
        await ftruncate(fd, res.goodEnd)
      }
      await fdatasync(fd)
    }
    for (const g of gens) if (g !== gen) await unlinkQuiet(logPath(dir, g)) // superseded by a finished compaction
    return { fd, gen, pos }
  } catch (err) {
    await closeQuiet(fd)
    throw err
  }
}
