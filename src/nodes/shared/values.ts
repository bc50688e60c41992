/**
 * Reading values from node config and from messages, one place for every Hearth node (as core
 * `10-mqtt.js` has its setIntProp / setBoolProp / setUserProperties). Config values arrive as
 * strings from the editor form, msg values as anything. Browser-safe: the editors may use it.
 *
 * Every reader treats `undefined`, `null` and `''` as "not set" and returns the fallback; a value
 * that is set but wrong gives INVALID, so the caller can say what to fix.
 */

export type QoS = 0 | 1 | 2

/** A value that is set but cannot be read as asked. */
export const INVALID: unique symbol = Symbol('invalid value')
export type Invalid = typeof INVALID

/** Is `value` unset: undefined, null or the empty string? */
function isUnset (value: unknown): value is undefined | null | '' {
  return value === undefined || value === null || value === ''
}

/**
 * A whole number in [min, max] from a number or a string of decimal digits (surrounding spaces
 * allowed); undefined for anything else (fractions, signs, exponents, booleans).
 */
export function parseIntIn (value: unknown, min: number, max: number): number | undefined {
  const s = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : ''
  if (!/^\d+$/.test(s)) return undefined
  const n = Number(s)
  return n >= min && n <= max ? n : undefined
}

/** An integer in [min, max]; `fallback` when unset; INVALID otherwise. */
export function readInt (value: unknown, fallback: number, min: number, max: number): number | Invalid {
  if (isUnset(value)) return fallback
  return parseIntIn(value, min, max) ?? INVALID
}

/** A QoS (0, 1, 2, as a number or a string); `fallback` when unset; INVALID otherwise. */
export function readQoS (value: unknown, fallback: QoS): QoS | Invalid {
  return readInt(value, fallback, 0, 2) as QoS | Invalid
}

/** true / 'true' and false / 'false'; undefined for anything else (unset included). */
export function readBool (value: unknown): boolean | undefined {
  if (value === true || value === 'true') return true
  if (value === false || value === 'false') return false
  return undefined
}

/** A checkbox or a flag from a msg: `fallback` when unset, true for true / 'true', false otherwise. */
export function readFlag (value: unknown, fallback: boolean): boolean {
  if (isUnset(value)) return fallback
  return value === true || value === 'true'
}

/**
 * MQTT 5 user properties from an object or a JSON object text (the editor's form). Strings are
 * kept, `null` and `undefined` values are dropped, anything else is sent as its JSON text.
 * undefined when there is none left; INVALID when the value is not an object.
 */
export function readUserProperties (value: unknown): Record<string, string> | undefined | Invalid {
  let v = value
  if (typeof v === 'string') {
    if (v.trim() === '') return undefined
    try { v = JSON.parse(v) } catch { return INVALID }
  }
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'object' || Array.isArray(v)) return INVALID
  const out: Record<string, string> = {}
  let count = 0
  for (const key of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[key]
    if (x === undefined || x === null) continue
    out[key] = typeof x === 'string' ? x : JSON.stringify(x)
    count++
  }
  return count > 0 ? out : undefined
}
