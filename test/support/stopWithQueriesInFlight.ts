import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { startEmulators } from '../../local/emulators.js';

// Run by test/integration/emulatorStop.test.ts: the embedded emulators on a data directory
// (argv[2]), stopped while queries are in flight, as `npm start`'s Ctrl-C finds the sweeper's.
// Exits 0 once stopped; a store closed under a request throws out of dynalite and exits 1.

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: stopWithQueriesInFlight.ts <dataDir>');
const emulators = await startEmulators({ dataDir, visibilityTimeoutSeconds: 30, maxReceiveCount: 5 });
const inFlight = Array.from({ length: 200 }, (_, i) => emulators.dynamodb.send(new QueryCommand({
  TableName: emulators.tableName,
  KeyConditionExpression: 'pk = :pk',
  ExpressionAttributeValues: { ':pk': { S: `LEASE#${i}` } },
})).then(() => 'answered', () => 'refused'));
// Some answered, most still queued inside dynalite.
await inFlight[0];
await emulators.stop();
const outcomes = await Promise.all(inFlight);
process.stdout.write(`stopped; ${outcomes.filter((o) => o === 'answered').length} answered\n`);
