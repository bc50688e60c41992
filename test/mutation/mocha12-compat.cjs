'use strict'
// @stryker-mutator/mocha-runner 10.1 requires mocha's CLI helpers without an extension
// (`mocha/lib/cli/run-helpers`), which Mocha 12 ships as `.cjs` files, so the plugin cannot load
// (upstream: stryker-js pull request 6205). Let CommonJS resolution also try `.cjs`; it changes
// nothing for the project's own files. Preloaded by scripts/mutation.mjs through NODE_OPTIONS.
const Module = require('node:module')
if (!Module._extensions['.cjs']) Module._extensions['.cjs'] = Module._extensions['.js']
