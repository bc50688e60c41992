/** The broker node's Prometheus endpoint settings in the edit dialog (browser only). */
import type { EditorPropDef } from '../shared/editor-red'
import { intIn } from '../shared/editor-util'
import { t } from './editor-common'
import { METRICS_DEFAULTS } from './monitoring'
import { PORT_RANGE, validHost } from './types'

/** The node's metrics properties; the port and address are checked only when the endpoint is on. */
export const metricsDefaults: Record<string, EditorPropDef> = {
  metrics: { value: METRICS_DEFAULTS.metrics },
  metricsPort: {
    value: METRICS_DEFAULTS.metricsPort,
    validate: function (v) {
      if (this.metrics !== true) return true
      return intIn(PORT_RANGE.min, PORT_RANGE.max)?.call(this, v) === true || t('monitoring.invalid.metricsPort')
    },
  },
  metricsHost: {
    value: METRICS_DEFAULTS.metricsHost,
    validate: function (v) { return this.metrics !== true || validHost(String(v ?? '').trim()) || t('monitoring.invalid.metricsHost') },
  },
}

/** Show the port and address rows only while the endpoint is ticked. */
export function setupMonitoring (): void {
  const on = $('#node-input-metrics')
  const update = (): void => { $('#hearth-broker-metrics-rows').toggle(on.is(':checked')) }
  on.on('change', update)
  update()
}
