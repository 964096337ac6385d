/**
 * mulberry32: a small seeded PRNG shared by randomised tests and benchmarks,
 * so a failing run replays exactly from its seed.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Rng {
  /** Float in [0, 1). */
  next(): number;
  /** Integer in [min, max] inclusive. */
  int(min: number, max: number): number;
  bytes(n: number): Buffer;
  pick<T>(items: readonly T[]): T;
}

/** prng(seed) with integer, byte and pick helpers. */
export function rng(seed: number): Rng {
  const next = prng(seed);
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    bytes(n) {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = int(0, 255);
      return b;
    },
    pick: (items) => items[int(0, items.length - 1)]!,
  };
}
