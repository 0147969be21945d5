// A history checker for mutual exclusion: each operation that ran reports the interval in which
// it did its work on an instance. Two intervals on one instance that overlap are a violation:
// two operations ran on it at the same time, which the lock was there to prevent.

export interface WorkInterval {
  readonly instanceId: string;
  readonly opId: string;
  readonly start: number;
  readonly end: number;
}

export interface Violation {
  readonly instanceId: string;
  readonly first: string;
  readonly second: string;
}

export class History {
  readonly intervals: WorkInterval[] = [];
  private readonly waiting: { count: number; resolve: () => void }[] = [];

  /** Runs `work` and records when it ran. */
  async record<T>(instanceId: string, opId: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.intervals.push({ instanceId, opId, start, end: performance.now() });
      for (const w of this.waiting.filter((x) => x.count <= this.intervals.length)) {
        this.waiting.splice(this.waiting.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /**
   * Resolves as the `count`th interval is recorded (at once if it is): a timed window ends when
   * its last work does, not at the next tick of a timer polling for it.
   */
  recorded(count: number): Promise<void> {
    if (this.intervals.length >= count) return Promise.resolve();
    return new Promise((resolve) => { this.waiting.push({ count, resolve }); });
  }
}

/**
 * Every overlapping pair, per instance: sorted by start, an interval overlaps every earlier one
 * still open when it starts. (Touching ends, a.end === b.start, do not overlap.)
 */
export function findViolations(intervals: readonly WorkInterval[]): Violation[] {
  const byInstance = new Map<string, WorkInterval[]>();
  for (const i of intervals) byInstance.set(i.instanceId, [...(byInstance.get(i.instanceId) ?? []), i]);
  const violations: Violation[] = [];
  for (const [instanceId, list] of byInstance) {
    const sorted = [...list].sort((a, b) => a.start - b.start);
    const open: WorkInterval[] = [];
    for (const current of sorted) {
      for (let k = open.length - 1; k >= 0; k--) if (open[k]!.end <= current.start) open.splice(k, 1);
      for (const earlier of open) violations.push({ instanceId, first: earlier.opId, second: current.opId });
      open.push(current);
    }
  }
  return violations;
}
