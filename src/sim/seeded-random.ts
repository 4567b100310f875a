/**
 * Deterministic hashing and pseudo-random numbers, stable across processes and Node versions, so
 * the simulator gives the same reply to the same request on every run (crash/resume tests compare
 * an interrupted run with an uninterrupted one and need this).
 */

/** cyrb53: a fast 53-bit string hash. Returns an integer in [0, 2^53). */
export function hashString(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Hashes several parts; each part is separated so `["ab", "c"]` and `["a", "bc"]` differ. */
export function hashParts(parts: readonly (string | number)[], seed = 0): number {
  return hashString(parts.join("\u0000"), seed);
}

/** A uniform number in [0, 1) derived from a hash, for one-shot decisions (faults). */
export function hashToUnit(hash: number): number {
  return hash / 9007199254740992;
}

/** A small seeded generator (mulberry32) with the helpers the content generators need. */
export class SeededRandom {
  #state: number;

  constructor(seed: number) {
    // Fold the 53-bit hash into 32 bits; keep the state non-zero.
    this.#state = ((seed % 4294967296) ^ Math.floor(seed / 4294967296)) >>> 0 || 0x9e3779b9;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [minimum, maximum] (both inclusive). */
  integer(minimum: number, maximum: number): number {
    if (maximum <= minimum) return minimum;
    return minimum + Math.floor(this.next() * (maximum - minimum + 1));
  }

  /** True with the given probability. */
  chance(probability: number): boolean {
    return this.next() < probability;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new RangeError("pick() needs a non-empty list");
    return item;
  }
}
