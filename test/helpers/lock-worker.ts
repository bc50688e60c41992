/**
 * A child process for the lock race test: it loads FilePersistence, says `ready`, then for every
 * line it reads on stdin:
 *   open   open the store (dir from argv) and answer `open` or `refused <message>`
 *   close  close it if open and answer `closed`
 * It exits when stdin ends. Run with: node -r tsx/cjs test/helpers/lock-worker.ts <dir>
 */
import { createInterface } from 'node:readline'
import { FilePersistence } from '../../src/broker/persistence-file'

const dir = process.argv[2]
let store: FilePersistence | null = null

const lines = createInterface({ input: process.stdin })
lines.on('line', line => {
  void (async () => {
    if (line === 'open') {
      const p = new FilePersistence({ dir, onWarning: () => {} })
      try {
        await p.open()
        store = p
        process.stdout.write('open\n')
      } catch (err) {
        process.stdout.write(`refused ${(err as Error).message}\n`)
      }
    } else if (line === 'close') {
      await store?.close()
      store = null
      process.stdout.write('closed\n')
    }
  })()
})
lines.on('close', () => { process.exit(0) })
process.stdout.write('ready\n')
