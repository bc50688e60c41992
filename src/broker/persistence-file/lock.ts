/**
 * The lock file of a FilePersistence directory (`hearth.lock`): which process uses the store.
 *
 * Content: the process id on the first line (as a pid file), then the boot id and the process
 * start time (Linux), so that a lock whose process id was reused after a crash or a reboot is
 * recognised as stale.
 *
 * Taking it: the lock is written complete to a private file and hard-linked into place, which
 * fails if a lock exists (create-exclusive, never a half-written lock). A stale lock is not
 * deleted by name (two processes starting together after a crash would both delete "the" stale
 * lock, the second one deleting the lock the first had just taken); it is renamed aside, which
 * one process alone can do, and the process that moved it checks it moved the stale lock it
 * inspected. If it moved a lock taken meanwhile, it links it straight back and finds it in use.
 */
import * as fs from 'node:fs'
import { randomBytes } from 'node:crypto'
import { FILE_MODE, unlinkQuiet } from './fs-util'

interface Holder { pid: number, boot?: string, start?: string }

function readProc (path: string): string | undefined {
  try { return fs.readFileSync(path, 'utf8') } catch { return undefined }
}

const BOOT_ID = readProc('/proc/sys/kernel/random/boot_id')?.trim()

/** Start time of a process in clock ticks since boot (Linux), or undefined. */
function startTime (pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`)
  if (stat === undefined) return undefined
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
}

function ownContent (): string {
  const start = startTime(process.pid)
  return BOOT_ID !== undefined && start !== undefined ? `${process.pid}\n${BOOT_ID} ${start}\n` : `${process.pid}\n`
}

function parse (content: string): Holder {
  const [first, second] = content.split('\n')
  const h: Holder = { pid: parseInt(first, 10) }
  const [boot, start] = (second ?? '').trim().split(' ')
  if (boot && start) { h.boot = boot; h.start = start }
  return h
}

/** Whether the process that wrote a lock still runs. */
function alive (h: Holder): boolean {
  if (!Number.isInteger(h.pid) || h.pid <= 0) return false
  if (h.pid === process.pid) return false // a lock of an earlier life of this process id (e.g. pid 1 in a container); this process guards its own directories
  if (h.boot !== undefined && BOOT_ID !== undefined && h.boot !== BOOT_ID) return false // written before a reboot
  try { process.kill(h.pid, 0) } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false }
  if (h.start !== undefined) {
    const now = startTime(h.pid)
    if (now !== undefined && now !== h.start) return false // the process id now belongs to another process
  }
  return true
}

/** Whether process `pid` runs (this process included). */
export function running (pid: number): boolean {
  if (pid === process.pid) return true
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

async function readQuiet (path: string): Promise<string | undefined> {
  try { return await fs.promises.readFile(path, 'utf8') } catch { return undefined }
}

function errno (err: unknown): string | undefined { return (err as NodeJS.ErrnoException).code }

/** The error for a directory another process holds (its message names the process and the lock file). */
class LockedError extends Error {
  readonly code = 'HEARTH_PERSISTENCE_LOCKED'
  constructor (readonly pid: number, lockPath: string) {
    super(`it is in use by process ${pid} (lock file ${lockPath}; delete it if no broker uses this directory)`)
  }
}

/** Filesystems without hard links (FAT, some network shares) answer link() with these. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV'])

/** Put the lock written in `mine` at `lockPath` unless one is there (EEXIST). */
async function createExclusive (mine: string, lockPath: string): Promise<void> {
  try {
    await fs.promises.link(mine, lockPath)
  } catch (err) {
    if (!NO_LINKS.has(errno(err) ?? '')) throw err
    // No hard links here: create-exclusive by name (the content follows at once).
    await fs.promises.writeFile(lockPath, await fs.promises.readFile(mine), { flag: 'wx', mode: FILE_MODE })
  }
}

/**
 * Take `lockPath` for this process. A lock left by a process that no longer runs (kill -9,
 * power loss, a reboot) is taken over; one held by a running process is a LockedError.
 */
export async function acquireLock (lockPath: string): Promise<void> {
  const mine = `${lockPath}.${process.pid}-${randomBytes(6).toString('hex')}`
  await fs.promises.writeFile(mine, ownContent(), { flag: 'wx', mode: FILE_MODE })
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await createExclusive(mine, lockPath)
        return
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw err
      }
      const seen = await readQuiet(lockPath)
      if (seen === undefined) continue // released meanwhile
      const holder = parse(seen)
      if (alive(holder)) throw new LockedError(holder.pid, lockPath)
      const aside = `${lockPath}.stale-${process.pid}-${randomBytes(6).toString('hex')}`
      try {
        await fs.promises.rename(lockPath, aside)
      } catch (err) {
        if (errno(err) === 'ENOENT') continue // another process moved it first
        throw err
      }
      const moved = await readQuiet(aside)
      if (moved !== seen) {
        // Not the stale lock we inspected: another process took the lock in between. Put it back.
        try { await createExclusive(aside, lockPath) } catch (err) { if (errno(err) !== 'EEXIST') throw err }
      }
      await unlinkQuiet(aside)
    }
    throw new Error(`could not take the lock file ${lockPath}`)
  } finally {
    await unlinkQuiet(mine)
  }
}
