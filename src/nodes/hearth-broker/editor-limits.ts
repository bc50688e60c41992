/**
 * The broker node's limits (browser only): one field per core option, its default (the core's)
 * as placeholder, its range checked as the core checks it. Empty means the core's default.
 */
import type { EditorNodeInstance, EditorPropDef } from '../shared/editor-red'
import { el, mark, optionRanges, t } from './editor-common'
import { LIMIT_KEYS, parseIntIn } from './types'

/** Validator of an option from the core's table; empty is valid (the default). */
export function limitValidator (key: string): EditorPropDef['validate'] {
  return function (value: unknown): boolean {
    const s = String(value ?? '').trim()
    if (s === '') return true
    const r = optionRanges()[key]
    // Without the table (an older runtime), the runtime checks it.
    return r === undefined ? /^\d+$/.test(s) : parseIntIn(s, r.min, r.max) !== undefined
  }
}

/** Build the rows in `#hearth-broker-limits-rows` and fill them from the node. */
export function setupLimits (node: EditorNodeInstance): void {
  const box = $('#hearth-broker-limits-rows')
  const ranges = optionRanges()
  for (const key of LIMIT_KEYS) {
    const r = ranges[key]
    const row = el('<div class="form-row"></div>').appendTo(box)
    el('<label style="width:190px"></label>').attr('for', `node-input-${key}`).text(t(`limits.${key}`)).appendTo(row)
    const input = el('<input type="text" style="width:140px">').attr('id', `node-input-${key}`).appendTo(row)
    if (r !== undefined) {
      input.attr('placeholder', String(r.default))
      el('<span class="hearth-broker-limit-range" style="margin-left:8px;font-size:0.85em;opacity:0.8"></span>')
        .text(t('limits.range', { min: r.min, max: r.max })).appendTo(row)
    }
    const v = node[key]
    input.val(v === undefined || v === null ? '' : String(v))
    const check = (): void => mark(input, limitValidator(key)?.call(node, input.val()) === true)
    input.on('input', check)
    input.on('change', check)
    check()
  }
  const toggle = $('#hearth-broker-limits-toggle')
  const body = $('#hearth-broker-limits-body')
  const icon = toggle.find('i')
  const set = (open: boolean): void => {
    body.toggle(open)
    icon.toggleClass('fa-caret-down', open)
    icon.toggleClass('fa-caret-right', !open)
  }
  // Open when a limit is set, so a changed value is never hidden.
  set(LIMIT_KEYS.some(k => node[k] !== undefined && node[k] !== ''))
  toggle.on('click', (e) => { e.preventDefault(); set(!body.is(':visible')) })
}
