/**
 * The broker node's monitoring settings and the sidebar's wire format: plain values and types
 * shared by the runtime and the editor.
 */

/** The Prometheus endpoint on a port of its own: off unless `metrics` is ticked. */
export const METRICS_DEFAULTS = { metrics: false, metricsPort: 9234, metricsHost: '127.0.0.1' }
