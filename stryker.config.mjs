// Mutation testing of the MQTT core (issue 13): `npm run mutation` (not part of `npm test`).
// Results and the list of equivalent mutants: docs/mutation.md.
import { readFileSync } from 'node:fs'

// Tests that mostly wait on real timers (Keep Alive 1-2 s, Will Delay, Session and Message Expiry,
// authFailureDelay): about 65 s of the suite's 110 s. Every survivor reruns all tests that cover
// it, and these cover most of the core, so they are left out of the mutation run; `npm test` still
// runs them. Regenerate with the mocha JSON reporter (tests of 1 s and more, FilePersistence kept).
const SLOW = JSON.parse(readFileSync(new URL('./test/mutation/slow-tests.json', import.meta.url), 'utf8'))
const escape = s => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  plugins: ['@stryker-mutator/mocha-runner', './test/mutation/ignore-messages.mjs', './test/mutation/live-reporter.mjs'],
  testRunner: 'mocha',
  // The core as issue 13 names it: topic rules, trie, retained store, router, sessions, encoders,
  // handlers, persistence codec (2,069 mutants). All of src/broker is about 7,700 mutants,
  // several hours on 2 cores with these specs; run it in groups with --mutate (docs/mutation.md).
  mutate: [
    'src/broker/topics.ts',
    'src/broker/topic-tree.ts',
    'src/broker/retained.ts',
    'src/broker/router.ts',
    'src/broker/session.ts',
    'src/broker/encode.ts',
    'src/broker/handlers/*.ts',
    'src/broker/persistence-file/codec.ts',
  ],
  // Strings that only people read (error messages, warning wording): see the ignorer.
  ignorers: ['human-text'],
  mochaOptions: {
    // The fast in-process specs that exercise the core. Left out because they spawn processes
    // (too slow to run per mutant): test/interop, test/nodes, test/e2e, test/editor, test/cli,
    // test/crash, test/listeners, test/fuzz; test/access tests src/broker/access, which is not mutated here.
    spec: [
      'test/unit/*.spec.ts',
      'test/broker/*.spec.ts',
      'test/conformance/*.spec.ts',
    ],
    // Mocha reads a string grep as a regular expression: every test but the slow ones.
    grep: `^(?!(?:${SLOW.map(escape).join('|')})$)`,
    require: ['tsx/cjs'],
    extension: ['ts'],
    'no-config': true,
    'no-package': true,
  },
  coverageAnalysis: 'perTest',
  // Reruns only test mutants whose code or covering tests changed; the file is committed.
  incremental: true,
  incrementalFile: 'test/mutation/stryker-incremental.json',
  // The broker specs wait on real timers (Keep Alive, Will Delay, expiry); the machine is shared.
  timeoutFactor: 2,
  timeoutMS: 10000,
  // 2 cores shared with other sessions: never more than 2 workers.
  concurrency: 2,
  // A test runner is recycled now and then so leaked sockets and timers cannot pile up.
  maxTestRunnerReuse: 200,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json', 'live'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
}
