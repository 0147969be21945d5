// Mutual exclusion over recorded intervals, a small pure function: given who held which
// resource when, the pairs of different holders whose intervals intersect. Reusable for any
// lock pattern (a lease, a claim, a peer lock): record each holder's critical section as an
// interval, feed them here.

export interface HoldInterval {
  readonly resource: string;
  readonly holder: string;
  readonly start: number;
  readonly end: number;
}

export interface Overlap {
  readonly resource: string;
  readonly first: HoldInterval;
  readonly second: HoldInterval;
}

/**
 * Intervals are closed-open [start, end): one that ends exactly when the next starts does not
 * overlap it. Intervals of the same holder are never reported against each other.
 */
export function findOverlaps(intervals: readonly HoldInterval[]): Overlap[] {
  const byResource = new Map<string, HoldInterval[]>();
  for (const i of intervals) {
    if (!(i.end > i.start)) continue;
    byResource.set(i.resource, [...(byResource.get(i.resource) ?? []), i]);
  }
  const found: Overlap[] = [];
  for (const [resource, list] of byResource) {
    const sorted = [...list].sort((a, b) => a.start - b.start || a.end - b.end);
    const open: HoldInterval[] = [];
    for (const next of sorted) {
      for (let k = open.length - 1; k >= 0; k--) if (open[k]!.end <= next.start) open.splice(k, 1);
      for (const held of open) if (held.holder !== next.holder) found.push({ resource, first: held, second: next });
      open.push(next);
    }
  }
  return found;
}
