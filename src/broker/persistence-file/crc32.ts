/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as used by zip and PNG.
 * Slicing-by-4: four 256-entry tables let the loop consume four bytes per step.
 */

const TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1
    t0[n] = c >>> 0
  }
  const tables = [t0]
  for (let s = 1; s < 4; s++) {
    const prev = tables[s - 1]
    const t = new Uint32Array(256)
    for (let n = 0; n < 256; n++) t[n] = (t0[prev[n] & 0xff] ^ (prev[n] >>> 8)) >>> 0
    tables.push(t)
  }
  return tables
})()

const [T0, T1, T2, T3] = TABLES

/**
 * CRC-32 of `buf[start, end)`. Pass the result of a previous call as `prev` to continue a
 * checksum over several ranges.
 */
export function crc32 (buf: Uint8Array, start = 0, end = buf.length, prev = 0): number {
  let c = ~prev
  let i = start
  const end4 = end - ((end - start) & 3)
  while (i < end4) {
    c ^= buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24)
    c = T3[c & 0xff] ^ T2[(c >>> 8) & 0xff] ^ T1[(c >>> 16) & 0xff] ^ T0[c >>> 24]
    i += 4
  }
  while (i < end) c = T0[(c ^ buf[i++]) & 0xff] ^ (c >>> 8)
  return ~c >>> 0
}
