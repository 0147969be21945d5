import { findViolations, History, type WorkInterval } from '../../../bench/history.js';

/** A promise the test resolves by hand (a gate, not a timer). */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

// The benchmark's history checker: it must find overlapping work on one instance, and only that.

const at = (instanceId: string, opId: string, start: number, end: number): WorkInterval => ({ instanceId, opId, start, end });

describe('findViolations', () => {
  it('finds a planted overlap among many well-ordered runs', () => {
    const clean = Array.from({ length: 50 }, (_, i) => at('i-1', `op-${i}`, i * 10, i * 10 + 10)); // back to back
    const planted = at('i-1', 'intruder', 202, 208); // inside op-20 (200-210)
    expect(findViolations([...clean, planted])).toEqual([{ instanceId: 'i-1', first: 'op-20', second: 'intruder' }]);
  });

  it('counts every overlapping pair, and none across instances', () => {
    const runs = [at('a', 'x', 0, 100), at('a', 'y', 10, 20), at('a', 'z', 15, 30), at('b', 'w', 0, 100)];
    expect(findViolations(runs)).toHaveLength(3); // x-y, x-z, y-z
    expect(findViolations([at('a', 'x', 0, 10), at('b', 'y', 0, 10)])).toEqual([]);
  });

  it('records real runs through History', async () => {
    const history = new History();
    const gate = deferred();
    const first = history.record('i', 'first', () => gate.promise);
    await history.record('i', 'second', async () => undefined); // runs while `first` is open
    gate.resolve();
    await first;
    expect(findViolations(history.intervals)).toEqual([{ instanceId: 'i', first: 'first', second: 'second' }]);
  });
});

describe('History.recorded', () => {
  it('resolves as the counted interval is recorded, not before, and at once when it already is', async () => {
    const history = new History();
    const gate = deferred();
    let second = false;
    const waited = history.recorded(2).then(() => { second = history.intervals.length >= 2; });
    await history.record('i', 'first', async () => undefined);
    const running = history.record('i', 'second', () => gate.promise);
    let early = false;
    void history.recorded(2).then(() => { early = true; });
    await Promise.resolve();
    expect(early).toBe(false);
    gate.resolve();
    await running;
    await waited;
    expect(second).toBe(true);
    await expect(history.recorded(1)).resolves.toBeUndefined();
  });
});
