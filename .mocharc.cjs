'use strict'
// Broker specs import src/ through tsx; node specs load the built nodes/ as shipped.
module.exports = {
  require: ['tsx/cjs'],
  extension: ['ts'],
  spec: [
    'test/unit/*.spec.ts',
    'test/broker/*.spec.ts',
    'test/conformance/*.spec.ts',
    'test/access/*.spec.ts',
    'test/cli/*.spec.ts',
    'test/listeners/*.spec.ts',
    'test/bridge/*.spec.ts',
    'test/interop/*.spec.ts',
    'test/crash/*.spec.ts',
    'test/fuzz/*.spec.ts',
    'test/nodes/*.spec.ts',
    'test/e2e/*.spec.ts',
    'test/editor/*.spec.ts',
  ],
  timeout: 20000,
  exit: false,
  reporter: 'spec',
}
