// What a test injected, by kind: a chaos run reports it, and a test can assert a fault fired.

export type FaultKind =
  | 'driver.fail' | 'driver.hang' | 'driver.crash'
  | 'worker.kill' | 'api.kill'
  | 'queue.drop' | 'queue.delay' | 'queue.duplicate' | 'queue.sendFailure'
  | 'delivery.duplicate' | 'dynamodb.throttle';

export class FaultLog {
  readonly counts = new Map<FaultKind, number>();
  constructor(private readonly onFault?: (kind: FaultKind, detail: Record<string, unknown>) => void) {}
  note(kind: FaultKind, detail: Record<string, unknown> = {}): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.onFault?.(kind, detail);
  }
  count(kind: FaultKind): number { return this.counts.get(kind) ?? 0; }
  total(): number { return [...this.counts.values()].reduce((a, b) => a + b, 0); }
  summary(): Record<string, number> { return Object.fromEntries([...this.counts].sort()); }
}
