/**
 * Hearth's bridges: a broker connected to a remote broker (Mosquitto, EMQX, HiveMQ, another Hearth)
 * with topic rules of Mosquitto's form, carrying messages both ways without loops and without
 * losing what was acknowledged. Uses the core only through its public API.
 */
export { Bridge, createBridge, BRIDGE_INFLIGHT } from './bridge'
export { resolveBridgeConfig, DEFAULT_KEEPALIVE, DEFAULT_RESTART_TIMEOUT, type ResolvedBridge, type ResolvedTopic } from './config'
export { loadTls as loadBridgeTls, type TlsMaterial } from './tls'
export { toLocal, toRemote } from './topic-map'
export { BridgeConfigError, BridgeError, type BridgeConfigErrorCode, type BridgeErrorCode } from './errors'
export type {
  BridgeConfig, BridgeTopic, BridgeDirection, BridgeState, BridgeStatus, BridgeProblem, BridgeWarning, BridgeEvents, PemSource,
} from './types'
