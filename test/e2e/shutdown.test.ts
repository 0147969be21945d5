import { request, Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { once } from 'node:events';
import { startLocalProcess, type LocalProcess } from '../support/localProcess.js';

// `npm start` stops on the first Ctrl-C (SIGINT to the terminal's process group) or SIGTERM
// (to the npm process alone), with an idle keep-alive connection open, after answering the
// request that was in flight when the signal came.

const groupAlive = (pid: number) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Resolves once no process of the group is left (npm, sh, tsx, node). A group has no exit event
 * to wait for, so it is looked at every 50 ms; a hang is the test's timeout, not a deadline here.
 */
async function groupEnds(pid: number): Promise<void> {
  while (groupAlive(pid)) await sleep(50);
}

let running: LocalProcess | undefined;
afterEach(() => {
  if (running?.child.pid && groupAlive(running.child.pid)) process.kill(-running.child.pid, 'SIGKILL');
  running = undefined;
});

/**
 * A request whose body is only half sent: in flight until `finish` is called. It asks for 100
 * Continue, so `received` resolves once the server has parsed its headers (Node's server answers
 * 100 Continue then): from there on the server counts it as a request in progress, not an idle
 * connection.
 */
function halfSentCreate(apiUrl: string, agent: Agent) {
  const body = JSON.stringify({ server: { name: 'in-flight', flavorRef: '1', imageRef: '70a599e0-31e7-49b7-b260-868f441e862b' } });
  const url = new URL(`${apiUrl}/servers`);
  let answered!: Promise<number>;
  const req = request(url, {
    method: 'POST', agent,
    headers: {
      'x-auth-token': 'alice:demo', 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
      expect: '100-continue',
    },
  });
  const received = once(req, 'continue').then(() => { req.write(body.slice(0, 10)); });
  answered = new Promise((resolve, reject) => {
    req.on('response', (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)); });
    req.on('error', reject);
  });
  req.flushHeaders();
  return { received, answered, finish: () => req.end(body.slice(10)) };
}

async function idleKeepAlive(apiUrl: string, agent: Agent) {
  const res = await fetchVia(agent, `${apiUrl}/flavors`);
  expect(res).toBe(200); // ...and the socket stays open, idle, in the agent
}

function fetchVia(agent: Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { agent, headers: { 'x-auth-token': 'alice:demo' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject).end();
  });
}

describe.each([
  ['Ctrl-C (SIGINT to the process group)', (p: LocalProcess) => process.kill(-p.child.pid!, 'SIGINT')],
  ['SIGTERM to the npm process', (p: LocalProcess) => p.child.kill('SIGTERM')],
])('npm start stops on the first %s', (_, signal) => {
  it('after answering the request in flight, with an idle keep-alive connection open', async () => {
    running = await startLocalProcess({ TASKGATE_DATA_DIR: 'memory' }, { viaNpm: true, ownProcessGroup: true });
    const agent = new Agent({ keepAlive: true });
    await idleKeepAlive(running.apiUrl, agent);
    const inFlight = halfSentCreate(running.apiUrl, new Agent({ keepAlive: true }));
    await inFlight.received;

    signal(running);
    await running.printed(/stopping taskgate/); // the stop has begun, the request still in flight
    inFlight.finish();

    expect(await inFlight.answered).toBe(202);
    // npm itself may end by the signal it was sent; what matters is that the whole tree ends,
    // the server having stopped in order.
    await groupEnds(running.child.pid!);
    expect(running.output()).toMatch(/stopping taskgate/);
    expect(running.output()).not.toMatch(/stop failed|Error/);
    agent.destroy();
  });
});
