import type { EditorPropDef } from './editor-red'

/** Node colour shared by every Hearth node (a warm hearth orange). */
export const COLOR = '#F0B27A'

/** A validator for an integer in [min, max]; empty allowed when `optional`. */
export function intIn (min: number, max: number, optional = false): EditorPropDef['validate'] {
  return function (value: unknown): boolean {
    const s = String(value ?? '').trim()
    if (s === '') return optional
    if (!/^\d+$/.test(s)) return false
    const n = Number(s)
    return n >= min && n <= max
  }
}

/** A validator for an optional JSON object (user properties). */
export function jsonObject (value: unknown): boolean {
  const s = String(value ?? '').trim()
  if (s === '') return true
  try {
    const v: unknown = JSON.parse(s)
    return typeof v === 'object' && v !== null && !Array.isArray(v)
  } catch {
    return false
  }
}
