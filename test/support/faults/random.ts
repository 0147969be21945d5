// A seeded pseudo-random source (mulberry32): the same seed replays the same workload and the
// same faults, so a chaos failure can be run again by its seed.

export class SeededRandom {
  private state: number;
  constructor(readonly seed: number) { this.state = seed >>> 0; }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  chance(p: number): boolean { return p > 0 && this.next() < p; }
  int(below: number): number { return Math.floor(this.next() * below); }
  between(min: number, max: number): number { return min + this.int(max - min + 1); }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[this.int(items.length)]!;
  }
  /** Picks by weight: `{ a: 3, b: 1 }` gives a three times as often as b. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    let roll = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of entries) {
      roll -= w;
      if (roll < 0) return k;
    }
    return entries[entries.length - 1]![0];
  }
  /** An independent stream, so adding draws in one place does not shift another's. */
  fork(label: string): SeededRandom {
    let h = this.seed >>> 0;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 2654435761) >>> 0;
    return new SeededRandom(h);
  }
}
