export * from './test-client'
export * from './harness'
export * from './duplex-pair'
export * as bytes from './bytes'
