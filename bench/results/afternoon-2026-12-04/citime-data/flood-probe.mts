// usage: npx tsx flood-probe.mts <tree> [settleMs]   (runs the smoke's 16B-none case with progress logs)
const tree = process.argv[2]!;
const { FLOOD_CASES, runFloodCase } = await import(`${tree}/bench/e2e/flood.ts`);
const c = FLOOD_CASES.find((x: { id: string }) => x.id === '16B-none')!;
const t0 = performance.now();
const args: unknown[] = [c, 120, 128 * 1024 * 1024, (s: string) => console.log(((performance.now() - t0) / 1000).toFixed(1), s), 300_000];
const r = await runFloodCase(...args);
console.log(((performance.now() - t0) / 1000).toFixed(1), JSON.stringify(r));
