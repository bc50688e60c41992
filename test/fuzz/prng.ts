/**
 * A small seeded PRNG (sfc32) so that every fuzz case is a pure function of its seed: a failure
 * prints the seed, and the same seed builds the same packets, mutations and split points again.
 */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (readonly seed: number) {
    // splitmix32 spreads a small seed over the four words of state
    let s = seed >>> 0
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = next(); this.b = next(); this.c = next(); this.d = next()
    for (let i = 0; i < 12; i++) this.u32()
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  u32 (): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0
    this.d = (this.d + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  /** A float in [0, 1). */
  float (): number { return this.u32() / 4294967296 }

  /** An integer in [min, max], both included. */
  int (min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1))
  }

  /** True with probability p. */
  chance (p: number): boolean { return this.float() < p }

  pick<T> (items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]
  }

  /** Pick by weight: [[weight, value], ...]. */
  weighted<T> (items: ReadonlyArray<readonly [number, T]>): T {
    let total = 0
    for (const [w] of items) total += w
    let r = this.float() * total
    for (const [w, v] of items) {
      r -= w
      if (r < 0) return v
    }
    return items[items.length - 1][1]
  }

  bytes (n: number): Buffer {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff
    return b
  }

  /** A new generator whose sequence depends on this one's next output (for independent streams). */
  fork (): Rng { return new Rng(this.u32()) }
}

/** A fresh random seed (for the one random seed each run adds to the fixed ones). */
export function randomSeed (): number {
  return (Math.floor(Math.random() * 0x100000000) ^ (Date.now() & 0xffffffff)) >>> 0
}
