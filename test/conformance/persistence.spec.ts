/**
 * Runs the shared persistence suite against every implementation. The file store runs in each
 * sync mode, and once with a tiny compaction threshold so that compactions run all the time,
 * interleaved with the suite's mutations, syncs and reopens.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryPersistence } from '../../src/broker/persistence'
import { FilePersistence, type FilePersistenceOptions } from '../../src/broker/persistence-file'
import { persistenceSuite, type PersistenceHarness } from './persistence.suite'

persistenceSuite('MemoryPersistence', async () => {
  const p = new MemoryPersistence()
  return { open: () => p, cleanup: async () => {} }
})

function fileHarness (extra: Partial<FilePersistenceOptions>): () => Promise<PersistenceHarness> {
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hearth-persist-'))
    const warnings: string[] = []
    return {
      open: () => new FilePersistence({ dir, onWarning: (m) => warnings.push(m), ...extra }),
      cleanup: async () => {
        await rm(dir, { recursive: true, force: true })
        assert.deepEqual(warnings, [], 'a healthy store must not warn')
      },
    }
  }
}

persistenceSuite('FilePersistence (syncMode always)', fileHarness({}))
persistenceSuite('FilePersistence (syncMode periodic)', fileHarness({ syncMode: 'periodic', flushInterval: 20 }))
persistenceSuite('FilePersistence (compacting constantly)', fileHarness({ compactThreshold: 2048, compactRatio: 1.2 }))
