/**
 * Primality for 0 <= n < 2^64: deterministic Miller-Rabin with BigInt.
 *
 * Testing against the first twelve primes as bases (2 ... 37) is proven
 * correct for every n < 3.18e23 (Sorenson and Webster, 2015), which covers
 * all 64-bit integers, so there are no false positives. Each round is one
 * modular exponentiation: about 64 squarings of 128-bit numbers.
 */
export const MAX_NUMBER = (1n << 64n) - 1n;

const BASES = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n];

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  base %= modulus;
  while (exponent > 0n) {
    if ((exponent & 1n) === 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
    exponent >>= 1n;
  }
  return result;
}

export function isPrime(n: bigint): boolean {
  if (n < 0n || n > MAX_NUMBER) throw new RangeError(`${n} is outside 0 .. 2^64-1`);
  if (n < 2n) return false;
  for (const p of BASES) {
    if (n === p) return true;
    if (n % p === 0n) return false;
  }
  // n - 1 = d * 2^s with d odd.
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  witness: for (const a of BASES) {
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let i = 1; i < s; i++) {
      x = (x * x) % n;
      if (x === n - 1n) continue witness;
    }
    return false; // a proves n composite
  }
  return true;
}
