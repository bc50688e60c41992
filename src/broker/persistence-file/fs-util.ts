/** Promise wrappers over the node:fs calls FilePersistence needs, on plain file descriptors. */
import * as fs from 'node:fs'

export function openFile (path: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, 0o644, (err, fd) => { if (err) reject(err); else resolve(fd) }))
}

export function readAt (fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, offset, length, position, (err, n) => { if (err) reject(err); else resolve(n) }))
}

/** Write all of `buf` at `position`, looping over short writes. */
export async function writeAll (fd: number, buf: Buffer, position: number): Promise<void> {
  let off = 0
  while (off < buf.length) {
    const n = await new Promise<number>((resolve, reject) =>
      fs.write(fd, buf, off, buf.length - off, position + off, (err, written) => { if (err) reject(err); else resolve(written) }))
    if (n <= 0) throw new Error('write returned 0 bytes')
    off += n
  }
}

function fdCall (fn: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => void, fd: number): Promise<void> {
  return new Promise((resolve, reject) => fn(fd, err => { if (err) reject(err); else resolve() }))
}

export const fdatasync = (fd: number): Promise<void> => fdCall(fs.fdatasync, fd)
export const fsync = (fd: number): Promise<void> => fdCall(fs.fsync, fd)
export const closeFd = (fd: number): Promise<void> => fdCall(fs.close, fd)

export function ftruncate (fd: number, len: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, len, err => { if (err) reject(err); else resolve() }))
}

export function fileSize (fd: number): Promise<number> {
  return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => { if (err) reject(err); else resolve(st.size) }))
}

export async function closeQuiet (fd: number | null): Promise<void> {
  if (fd === null) return
  try { await closeFd(fd) } catch { /* already closed or unusable: nothing left to release */ }
}

export async function unlinkQuiet (path: string): Promise<void> {
  try { await fs.promises.unlink(path) } catch { /* absent already */ }
}

/**
 * Make a rename or a new file in `dir` durable. Windows cannot open a directory; there the
 * rename is journalled by NTFS, so the error is ignored.
 */
export async function fsyncDir (dir: string): Promise<void> {
  let fd: number
  try { fd = await openFile(dir, 'r') } catch (err) {
    if (process.platform === 'win32') return
    throw err
  }
  try { await fsync(fd) } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR') throw err
  } finally { await closeQuiet(fd) }
}

function pidAlive (pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  if (pid === process.pid) return false // a lock of an earlier life of this process id (e.g. pid 1 in a container)
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/**
 * Take `lockPath` for this process. A lock left by a process that no longer runs (kill -9,
 * power loss) is taken over; one held by a running process is an error.
 */
export async function acquireLock (lockPath: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.promises.writeFile(lockPath, `${process.pid}\n`, { flag: 'wx' })
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    let holder = NaN
    try { holder = parseInt(await fs.promises.readFile(lockPath, 'utf8'), 10) } catch { /* vanished meanwhile: retry */ }
    if (pidAlive(holder)) {
      throw new Error(`it is in use by process ${holder} (lock file ${lockPath}; delete it if no broker uses this directory)`)
    }
    await unlinkQuiet(lockPath)
  }
  throw new Error(`could not take the lock file ${lockPath}`)
}
