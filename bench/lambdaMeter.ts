// Lambda's side of the bill, per function: invocations and their durations, timed around the
// handler as Lambda times it (billed in whole milliseconds), and the CPU time this thread spent in
// them (process.threadCpuUsage: with the emulators on a worker thread, the handler's own CPU). Read
// it only for invocations made one at a time: concurrent ones share the thread's clock.

export interface Invocations {
  invocations: number;
  /** Sum over invocations of the wall time rounded up to 1 ms, as Lambda bills it. */
  billedMs: number;
  wallMs: number;
  cpuMs: number;
}

const none = (): Invocations => ({ invocations: 0, billedMs: 0, wallMs: 0, cpuMs: 0 });
const threadCpuMs = () => {
  const u = (process as unknown as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.() ?? process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export class LambdaMeter {
  private readonly tallies = new Map<string, Invocations>();

  async time<T>(fn: string, invoke: () => Promise<T>): Promise<T> {
    const cpu = threadCpuMs();
    const t = performance.now();
    try {
      return await invoke();
    } finally {
      const wall = performance.now() - t;
      const tally = this.tallies.get(fn) ?? none();
      tally.invocations++;
      tally.wallMs += wall;
      tally.billedMs += Math.max(1, Math.ceil(wall));
      tally.cpuMs += threadCpuMs() - cpu;
      this.tallies.set(fn, tally);
    }
  }

  take(fn: string): Invocations {
    const t = this.tallies.get(fn) ?? none();
    this.tallies.delete(fn);
    return t;
  }
}
