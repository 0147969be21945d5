// Small statistics and a seeded PRNG for the benchmark (nothing here is timed by a test).

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!;
}

export const median = (values: readonly number[]) => percentile(values, 0.5);

/** mulberry32: a tiny seeded PRNG, so a workload is the same on every run with the same --seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A one-line progress bar on stderr when it is a terminal; a quiet no-op in CI logs. */
export function progress(label: string, total: number): { tick(n?: number): void; done(): void } {
  if (!process.stderr.isTTY) return { tick() {}, done() {} };
  let n = 0;
  let last = -1;
  const draw = () => {
    const pct = Math.floor((n / total) * 100);
    if (pct === last) return;
    last = pct;
    const width = 30;
    const filled = Math.round((pct / 100) * width);
    process.stderr.write(`\r  ${label.padEnd(34)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(pct).padStart(3)}%`);
  };
  return {
    tick(k = 1) { n += k; draw(); },
    done() { n = total; draw(); process.stderr.write('\n'); },
  };
}
