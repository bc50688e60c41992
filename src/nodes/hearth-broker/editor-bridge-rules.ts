/**
 * The topic rules of one bridge in the broker node's dialog (browser only): Mosquitto's
 * `topic pattern [out|in|both [qos [local-prefix remote-prefix]]]` as a table, each row with what it
 * maps on each side. The first matching rule decides, so the rows can be reordered.
 */
import type { JQ } from '../shared/editor-red'
import { ruleFault } from './bridge-checks'
import { el, listRows, mark, t } from './editor-common'
import { BRIDGE_DIRECTIONS, type BridgeRuleConfig, type BridgeRuleDirection } from './types'

interface RuleRow { pattern: JQ, direction: JQ, qos: JQ, local: JQ, remote: JQ }

/** A new rule: Mosquitto's defaults (out, QoS 0, no prefixes). */
const NEW_RULE: BridgeRuleConfig = { pattern: '', direction: 'out', qos: '0', localPrefix: '', remotePrefix: '' }

function readRule (r: RuleRow): BridgeRuleConfig {
  return {
    pattern: String(r.pattern.val() ?? '').trim(),
    direction: String(r.direction.val()) as BridgeRuleDirection,
    qos: String(r.qos.val() ?? '0'),
    localPrefix: String(r.local.val() ?? '').trim(),
    remotePrefix: String(r.remote.val() ?? '').trim(),
  }
}

/** What a rule maps, as "here home/# ⇄ remote house1/home/#". */
function mapping (r: BridgeRuleConfig): string {
  const arrow = r.direction === 'in' ? '←' : r.direction === 'both' ? '⇄' : '→'
  const local = r.pattern === '' ? r.localPrefix : r.localPrefix + r.pattern
  const remote = r.pattern === '' ? r.remotePrefix : r.remotePrefix + r.pattern
  return t('rule.map', { local: local || '…', arrow, remote: remote || '…' })
}

/**
 * Build the rules table of a bridge in `list` (an empty `<ol>`). `onChange` runs after every edit.
 * Returns a reader.
 */
export function setupRules (list: JQ, initial: BridgeRuleConfig[], onChange: () => void): () => BridgeRuleConfig[] {
  const header = el('<div class="hearth-broker-rule-header" style="display:flex;gap:6px;padding:0 4px 0 28px;font-size:0.85em;opacity:0.8"></div>')
  for (const [key, style] of [['pattern', 'flex:1 1 90px'], ['direction', 'width:70px;flex:none'], ['qos', 'width:44px;flex:none'], ['localPrefix', 'flex:1 1 70px'], ['remotePrefix', 'flex:1 1 70px']]) {
    header.append(el('<span></span>').attr('style', style).text(t(`rule.${key}`)))
  }
  list.editableList({
    addButton: t('label.addRule'),
    header,
    removable: true,
    sortable: true,
    height: 'auto',
    addItem (container, _index, data) {
      const r = (data.direction !== undefined ? data : { ...NEW_RULE }) as unknown as BridgeRuleConfig
      const line = el('<div style="display:flex;gap:6px;align-items:center"></div>').appendTo(container)
      const pattern = el('<input type="text" class="hearth-broker-rule-pattern" style="flex:1 1 90px;min-width:0;width:auto">').attr('placeholder', t('placeholder.rulePattern')).appendTo(line)
      const direction = el('<select class="hearth-broker-rule-direction" style="width:70px;flex:none"></select>').appendTo(line)
      for (const d of BRIDGE_DIRECTIONS) direction.append(el('<option></option>').attr('value', d).text(t(`rule.${d}`)))
      const qos = el('<select class="hearth-broker-rule-qos" style="width:44px;flex:none"></select>').appendTo(line)
      for (const q of ['0', '1', '2']) qos.append(el('<option></option>').attr('value', q).text(q))
      const local = el('<input type="text" class="hearth-broker-rule-local" style="flex:1 1 70px;min-width:0;width:auto">').attr('placeholder', t('placeholder.prefix')).appendTo(line)
      const remote = el('<input type="text" class="hearth-broker-rule-remote" style="flex:1 1 70px;min-width:0;width:auto">').attr('placeholder', t('placeholder.prefix')).appendTo(line)
      const map = el('<div class="hearth-broker-rule-map" style="margin-top:2px;font-size:0.85em;opacity:0.85;font-family:monospace"></div>').appendTo(container)
      const row: RuleRow = { pattern, direction, qos, local, remote }
      container.data('rule', row)
      pattern.val(String(r.pattern ?? ''))
      direction.val(BRIDGE_DIRECTIONS.includes(r.direction) ? r.direction : 'out')
      qos.val(['0', '1', '2'].includes(String(r.qos)) ? String(r.qos) : '0')
      local.val(String(r.localPrefix ?? ''))
      remote.val(String(r.remotePrefix ?? ''))
      const update = (): void => {
        const now = readRule(row)
        const fault = ruleFault(now, 0)
        mark(pattern, fault?.field !== 'pattern')
        mark(local, fault?.field !== 'localPrefix')
        mark(remote, fault?.field !== 'remotePrefix')
        map.text(mapping(now))
        onChange()
      }
      for (const input of [pattern, direction, qos, local, remote]) {
        input.on('change', update)
        input.on('input', update)
      }
      update()
    },
    removeItem () { onChange() },
    sortItems () { onChange() },
  })
  for (const r of initial) list.editableList('addItem', r as unknown as Record<string, unknown>)
  return () => listRows<RuleRow>(list, 'rule').map(readRule)
}
