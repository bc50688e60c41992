import { isUtf8 } from 'node:buffer'

import type { OutputFormat } from './formats'

export { OUTPUT_FORMATS, type OutputFormat } from './formats'

/**
 * Encode `msg.payload` for publishing: Buffer as is, string as UTF-8, object as JSON,
 * number or boolean as its text, null or undefined as an empty payload.
 */
export function encodePayload (value: unknown): Buffer {
  if (value === null || value === undefined) return Buffer.alloc(0)
  if (Buffer.isBuffer(value)) return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return Buffer.from(String(value), 'utf8')
  return Buffer.from(JSON.stringify(value), 'utf8')
}

export type Decoded = { ok: true, value: unknown } | { ok: false, reason: 'invalid-json' | 'not-utf8' }

/**
 * Decode a received payload. `auto` gives parsed JSON when the payload is JSON, a string when it
 * is UTF-8 text, and the Buffer otherwise; `json` fails on anything that is not JSON.
 */
/** Can `text` be JSON at all? A JSON text starts, after white space, with one of { [ " - 0-9 t f n. */
function mayBeJson (text: string): boolean {
  let i = 0
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break
    i++
  }
  const c = text.charCodeAt(i)
  return c === 0x7b || c === 0x5b || c === 0x22 || c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e
}

export function decodePayload (payload: Buffer, format: OutputFormat): Decoded {
  switch (format) {
    case 'buffer': return { ok: true, value: payload }
    case 'base64': return { ok: true, value: payload.toString('base64') }
    case 'string': return { ok: true, value: payload.toString('utf8') }
    case 'json': {
      if (!isUtf8(payload)) return { ok: false, reason: 'not-utf8' }
      try {
        return { ok: true, value: JSON.parse(payload.toString('utf8')) }
      } catch {
        return { ok: false, reason: 'invalid-json' }
      }
    }
    default: return { ok: true, value: decodeAuto(payload) }
  }
}

/** `auto`, which never fails: parsed JSON when the payload is JSON, a string when it is UTF-8 text, else the Buffer. */
export function decodeAuto (payload: Buffer): unknown {
  if (payload.length === 0) return ''
  if (!isUtf8(payload)) return payload
  const text = payload.toString('utf8')
  if (!mayBeJson(text)) return text // skip a throwing JSON.parse for plain text
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
