import { readFile } from 'node:fs/promises';
import { startEmulators } from '../../local/emulators.js';

// The embedded emulators take any credentials: they listen on the loopback address only, never
// on every interface (fauxqs's own default, 0.0.0.0), whatever HOST the API is given. Read from
// the kernel's table of listening sockets (Linux).

const LISTEN = '0A';
const LOOPBACK = new Set(['0100007F', '00000000000000000000000001000000', '0000000000000000FFFF00000100007F']);

/** The local addresses (hex, as /proc/net/tcp{,6} has them) of the sockets listening on `port`. */
async function listeningAddresses(port: number): Promise<string[]> {
  const addresses: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== LISTEN) continue;
      const [address, hexPort] = local.split(':');
      if (parseInt(hexPort!, 16) === port) addresses.push(address!);
    }
  }
  return addresses;
}

const linux = process.platform === 'linux';
(linux ? it : it.skip)('dynalite and fauxqs listen on the loopback address only', async () => {
  const emulators = await startEmulators({ visibilityTimeoutSeconds: 30, maxReceiveCount: 5 });
  try {
    for (const endpoint of [emulators.dynamodbEndpoint, emulators.sqsEndpoint]) {
      const addresses = (await listeningAddresses(Number(new URL(endpoint).port))).map((a) => (LOOPBACK.has(a) ? 'loopback' : a));
      expect({ endpoint, addresses }).toEqual({ endpoint, addresses: ['loopback'] });
    }
  } finally {
    await emulators.stop();
  }
});
