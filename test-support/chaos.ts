/**
 * Rounds for the seeded SIGKILL tests (durability/crash, durability/kv-crash, streams/crash).
 * By default one round, round 0, which is exactly the fixed cases CI runs. A long run sets
 * WARREN_CHAOS_ROUNDS=n (and WARREN_CHAOS_FIRST_ROUND=k to split it over several runs):
 * rounds k..k+n-1, each a new set of seeds (seed + 1000 * round), so a failure replays from
 * the round in its test name.
 */
function envCount(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** The rounds to run: [0] unless WARREN_CHAOS_ROUNDS / WARREN_CHAOS_FIRST_ROUND say otherwise. */
export function chaosRounds(): number[] {
  const n = envCount('WARREN_CHAOS_ROUNDS', 1, 1);
  const first = envCount('WARREN_CHAOS_FIRST_ROUND', 0, 0);
  return Array.from({ length: n }, (_, i) => first + i);
}

/** The seed of a case in a round: round 0 keeps the case's own seed. */
export const roundSeed = (seed: number, round: number): number => seed + 1000 * round;
