/** Promise wrappers over the node:fs calls FilePersistence needs, on plain file descriptors. */
import * as fs from 'node:fs'

/** Files of the store are the broker's alone: owner read and write only. */
export const FILE_MODE = 0o600
/** A store directory FilePersistence creates: owner only. */
export const DIR_MODE = 0o700

export function openFile (path: string, flags: string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, FILE_MODE, (err, fd) => { if (err) reject(err); else resolve(fd) }))
}

/** Narrow the mode of one of our files created by an older version (0644) to FILE_MODE. */
export async function restrictMode (fd: number): Promise<void> {
  if (process.platform === 'win32') return
  const mode = await new Promise<number>((resolve) => fs.fstat(fd, (err, st) => resolve(err ? 0 : st.mode)))
  if ((mode & 0o077) === 0) return
  await new Promise<void>((resolve) => fs.fchmod(fd, FILE_MODE, () => resolve())) // best effort: not ours to insist on
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
const fsync = (fd: number): Promise<void> => fdCall(fs.fsync, fd)
const closeFd = (fd: number): Promise<void> => fdCall(fs.close, fd)

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
