import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// `npm start` stopped by Ctrl-C while the sweeper's queries are in flight exits 0: the embedded
// emulators close their servers (each request still being served answers) before their clients
// and stores go. Stopped the other way round, dynalite closed its database under a queued query,
// which threw out of the process (exit code 1; CI's crash-restart test caught it once in two).

it('stopping the emulators with queries in flight ends the process cleanly', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'taskgate-stop-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/stopWithQueriesInFlight.ts', dataDir], {
      env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, out }).toEqual({ code: 0, out: expect.stringMatching(/^stopped; \d+ answered\n$/) });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
