/**
 * Seeded pseudo-random numbers for the simulator, emulated link faults and benchmark blocks.
 * Every random choice in a simulation (latency, drops, scenario generation) comes from one of
 * these, so a seed fixes the whole run bit for bit.
 * `Math.random` is never used: it cannot be seeded.
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state, period
 * ≥ 2^32, passes PractRand), seeded through splitmix32 so that nearby seeds (1, 2, 3 …) give
 * unrelated streams.
 */
export class Prng {
  #a: number
  #b: number
  #c: number
  #d: number
  /** Second normal deviate from the last Box–Muller draw, used by the next `normal()` call. */
  #spareNormal: number | undefined

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`PRNG seed must be a non-negative safe integer, got ${seed}`)
    let s = (seed >>> 0) ^ Math.floor(seed / 2 ** 32)
    const splitmix32 = (): number => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.#a = splitmix32()
    this.#b = splitmix32()
    this.#c = splitmix32()
    this.#d = splitmix32()
    // sfc32's first outputs are correlated with the seed; the authors recommend discarding 12.
    for (let i = 0; i < 12; i++) this.nextU32()
  }

  nextU32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0
    this.#d = (this.#d + 1) | 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) | 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#c = (this.#c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  float(): number {
    return this.nextU32() / 4294967296
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.float()
  }

  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) throw new RangeError(`bad integer range [${min}, ${max}]`)
    return min + Math.floor(this.float() * (max - min + 1))
  }

  chance(probability: number): boolean {
    return probability > 0 && this.float() < probability
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('cannot pick from an empty list')
    return items[this.int(0, items.length - 1)]!
  }

  /** Fisher–Yates shuffle of a copy. */
  shuffled<T>(items: readonly T[]): T[] {
    const out = items.slice()
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i)
      const tmp = out[i]!
      out[i] = out[j]!
      out[j] = tmp
    }
    return out
  }

  /** Standard normal deviate (Box–Muller; both deviates of a draw are used). */
  normal(): number {
    if (this.#spareNormal !== undefined) {
      const spare = this.#spareNormal
      this.#spareNormal = undefined
      return spare
    }
    // 1 − float() is in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.float()))
    const angle = 2 * Math.PI * this.float()
    this.#spareNormal = radius * Math.sin(angle)
    return radius * Math.cos(angle)
  }

  /**
   * An independent generator derived from this one. Components take their own stream so that,
   * e.g., adding a load model does not shift every latency sample of the network.
   */
  fork(): Prng {
    return new Prng(this.nextU32() * 2 ** 20 + (this.nextU32() >>> 12))
  }
}
