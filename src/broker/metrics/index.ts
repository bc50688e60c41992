/*
 * The broker's figures: the counters the core keeps on its hot path, the snapshot behind
 * Broker.metrics(), the $SYS tree (Mosquitto's topic names) with its write protection, and the
 * Prometheus text rendering.
 */
export { Counters, type ListenerCounters } from './counters'
export { clientMayPublish } from './guard'
export { MetricsService } from './service'
export { renderPrometheus, PROMETHEUS_CONTENT_TYPE } from './prometheus'
export type { BrokerMetrics, ListenerMetrics, LoadAverage, EventLoopDelay, PersistenceMetrics, PacketType } from './types'
