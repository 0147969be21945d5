import { jest } from '@jest/globals';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { CLAIMS_RELEASED } from '../../lib/alarms.js';

// The ClaimsReleased alarm is only as good as the metric under it: the sweeper must emit, as one
// top-level JSON line on stdout (what CloudWatch's EMF extraction reads, whatever the Lambda log
// format), exactly the namespace, metric and dimension the alarm watches (Powertools Metrics writes it).

const dynamo = mockClient(DynamoDBDocumentClient);
afterAll(() => dynamo.restore());

it('emits the EMF record the ClaimsReleased alarm watches, as a raw stdout line', async () => {
  dynamo.on(QueryCommand).resolves({ Items: [] });
  process.env.TABLE_NAME = 'unit';
  const { handler } = await import('../../functions/sweeper/handler.js');
  const written: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => { written.push(String(chunk)); return true; });
  const log = jest.spyOn(console, 'log');
  try {
    await expect(handler()).resolves.toEqual({ released: 0 });
  } finally {
    write.mockRestore();
    log.mockRestore();
  }
  expect(log).not.toHaveBeenCalled();
  const records = written.filter((line) => line.includes('"_aws"'));
  expect(records).toHaveLength(1);
  expect(records[0]!.endsWith('\n')).toBe(true);
  const record = JSON.parse(records[0]!);
  const directive = record._aws.CloudWatchMetrics[0];
  expect(directive.Namespace).toBe(CLAIMS_RELEASED.namespace);
  expect(directive.Metrics).toEqual([{ Name: CLAIMS_RELEASED.metricName, Unit: 'Count' }]);
  expect(directive.Dimensions).toEqual([Object.keys(CLAIMS_RELEASED.dimensionsMap)]);
  for (const [name, value] of Object.entries(CLAIMS_RELEASED.dimensionsMap)) expect(record[name]).toBe(value);
  expect(record[CLAIMS_RELEASED.metricName]).toBe(0);
});
