import { spawn } from 'node:child_process';

/** Runs `measure` with `n` CPU-bound Node processes beside it (the benchmark's own children, ended after). */
export async function withBusyNeighbours<T>(n: number, measure: () => Promise<T>): Promise<T> {
  const neighbours = Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
  try {
    return await measure();
  } finally {
    for (const child of neighbours) child.kill('SIGKILL');
  }
}
