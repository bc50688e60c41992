/**
 * Hand-built packet bytes for malformed-packet tests, where an encoder would refuse (or fix) the
 * mistake we want to send.
 */

/** MQTT Variable Byte Integer (minimal encoding). */
export function varint (n: number): Buffer {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return Buffer.from(out)
}

/** Two-byte length prefix followed by the bytes (a UTF-8 string or binary data field). */
export function lstr (s: string | Buffer): Buffer {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8')
  const len = Buffer.alloc(2)
  len.writeUInt16BE(b.length)
  return Buffer.concat([len, b])
}

export function u16 (n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}

/** A whole packet: first byte (type << 4 | flags), remaining length, body. */
export function packet (type: number, flags: number, ...body: Buffer[]): Buffer {
  const b = Buffer.concat(body)
  return Buffer.concat([Buffer.from([(type << 4) | flags]), varint(b.length), b])
}

/** Offset of the first byte after the fixed header (the remaining length varies in size). */
function bodyOffset (pkt: Buffer): number {
  let i = 1
  while (pkt[i] & 0x80) i++
  return i + 1
}

/**
 * Offset of the Connect Flags byte of an encoded CONNECT: after the fixed header, the protocol
 * name (2-byte length + name) and the level byte.
 */
export function connectFlagsOffset (pkt: Buffer): number {
  const o = bodyOffset(pkt)
  const nameLen = pkt.readUInt16BE(o)
  return o + 2 + nameLen + 1
}

/** Offset of the Protocol Level byte of an encoded CONNECT. */
export function connectLevelOffset (pkt: Buffer): number {
  return connectFlagsOffset(pkt) - 1
}

/** Copy of `buf` with the byte at `offset` replaced by `fn(old)`. */
export function patchByte (buf: Buffer, offset: number, fn: (old: number) => number): Buffer {
  const c = Buffer.from(buf)
  c[offset] = fn(c[offset]) & 0xff
  return c
}

/** MQTT 5 property: identifier byte then value bytes. */
export function prop (id: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([id]), value])
}

/** MQTT 5 property block: varint length then the properties. */
export function props (...p: Buffer[]): Buffer {
  const b = Buffer.concat(p)
  return Buffer.concat([varint(b.length), b])
}

/** Raw PUBLISH with a topic given as bytes (to send ill-formed UTF-8). */
export function rawPublish (o: { topic: Buffer, payload?: Buffer, qos?: number, messageId?: number, v5?: boolean, flags?: number }): Buffer {
  const qos = o.qos ?? 0
  const flags = o.flags ?? (qos << 1)
  const parts = [lstr(o.topic)]
  if (qos > 0) parts.push(u16(o.messageId ?? 1))
  if (o.v5) parts.push(props())
  parts.push(o.payload ?? Buffer.from('x'))
  return packet(3, flags, ...parts)
}
