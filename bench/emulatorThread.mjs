// The emulators' servers (dynalite, fauxqs) on a worker thread of the benchmark's process: they
// answer on their own event loop, as DynamoDB and SQS answer on their own machines, so the CPU
// the emulators spend is not taken from the handlers and clients being measured, nor theirs
// from the emulators. Plain JavaScript: a worker does not inherit tsx's loader.
import { parentPort } from 'node:worker_threads';
import dynalite from 'dynalite';
import { startFauxqs } from 'fauxqs';

const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
await new Promise((resolve) => dynamo.listen(0, '127.0.0.1', resolve));
const fauxqs = await startFauxqs({ port: 0, logger: false });
parentPort.postMessage({ dynamodbEndpoint: `http://127.0.0.1:${dynamo.address().port}`, sqsEndpoint: fauxqs.address });
parentPort.once('message', async () => {
  await fauxqs.stop();
  await new Promise((resolve) => dynamo.close(resolve));
  parentPort.postMessage('stopped');
});
