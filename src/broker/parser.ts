/*
 * mqtt-packet's parser with two broker-side checks added where the bytes are still at hand:
 * the server's Maximum Packet Size, checked as soon as the fixed header is read so an oversized
 * packet is never buffered [MQTT-3.1.2-24], and well-formed UTF-8 without U+0000 in every
 * string [MQTT-1.5.3-1, MQTT-1.5.3-2].
 */
import mqtt from 'mqtt-packet'
import { isUtf8 } from 'node:buffer'

export class PacketTooLargeError extends Error {}
export class BadUtf8Error extends Error {}

interface BufferListLike {
  length: number
  slice (start: number, end: number): Buffer
}

/** The internals of mqtt-packet's Parser that we extend (mqtt-packet 9.x). */
interface ParserInternals {
  packet: { length: number }
  _list: BufferListLike
  _pos: number
  _parseLength (): boolean
  _parseString (): string | null
  _emitError (err: Error): void
  error: Error | null
}

export type PacketParser = mqtt.Parser

export function createParser (maxPacketSize: number): PacketParser {
  const parser = mqtt.parser({ protocolVersion: 4 })
  const p = parser as unknown as ParserInternals
  const parseLength = p._parseLength
  p._parseLength = function (this: ParserInternals): boolean {
    const before = this._list.length
    const ok = parseLength.call(this)
    if (ok) {
      const headerBytes = 1 + (before - this._list.length)
      if (this.packet.length + headerBytes > maxPacketSize) {
        this._emitError(new PacketTooLargeError(`packet of ${this.packet.length + headerBytes} bytes exceeds the maximum of ${maxPacketSize}`))
        return false
      }
    }
    return ok
  }
  const parseString = p._parseString
  p._parseString = function (this: ParserInternals): string | null {
    const start = this._pos + 2
    const s = parseString.call(this)
    if (s === null) return s
    if (s.indexOf('\ufffd') !== -1 && !isUtf8(this._list.slice(start, this._pos))) {
      this._emitError(new BadUtf8Error('malformed UTF-8 string'))
      return null
    }
    if (s.indexOf('\u0000') !== -1) {
      this._emitError(new BadUtf8Error('string contains U+0000'))
      return null
    }
    return s
  }
  return parser
}
