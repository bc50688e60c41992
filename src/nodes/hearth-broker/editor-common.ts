/** Small helpers shared by the broker node's editor modules (browser only). */
import type { JQ } from '../shared/editor-red'
import { OPTIONS_SETTING, TYPE, type OptionRange } from './types'

/** A message of the broker node's catalog (through the type's own translator, which knows the catalog's namespace). */
export function t (key: string, subs?: Record<string, string | number>): string {
  const translate = RED.nodes.getType(TYPE)?._
  return translate !== undefined ? translate(`hearth-broker.${key}`, subs) : RED._(`hearth-broker.${key}`, subs)
}

/** The core's option ranges, as the runtime hands them to the editor (RED.settings). */
export function optionRanges (): Record<string, OptionRange> {
  const r = RED.settings[OPTIONS_SETTING]
  return typeof r === 'object' && r !== null ? r as Record<string, OptionRange> : {}
}

/** Mark an input as invalid (Node-RED's own style) or valid. */
export function mark (input: JQ, valid: boolean): void {
  input.toggleClass('input-error', !valid)
}

/** A jQuery element from HTML. */
export function el (html: string): JQ {
  return $(html)
}

/** Read a file the user picked as text. */
export function readFileText (file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader()
    reader.onload = () => resolve(String(reader.result ?? ''))
    reader.onerror = () => reject(reader.error ?? new Error('cannot read the file'))
    reader.readAsText(file)
  })
}

/** POST JSON to one of the node's admin routes; resolves with the answer, or rejects with its `error`. */
export function postJson (url: string, body: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    $.ajax({ url, method: 'POST', contentType: 'application/json', data: JSON.stringify(body), dataType: 'json' }).then(
      (data) => {
        const answer = data as Record<string, unknown>
        if (answer.error !== undefined) reject(answer)
        else resolve(answer)
      },
      (xhr: unknown) => reject((xhr as { responseJSON?: unknown }).responseJSON ?? { error: { code: 'REQUEST_FAILED' } }),
    )
  })
}

/** GET JSON from one of the node's admin routes. */
export function getJson (url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    $.ajax({ url, method: 'GET', dataType: 'json' }).then((data) => resolve(data as Record<string, unknown>), reject)
  })
}
