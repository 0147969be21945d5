// The prices every dollar figure of the bench is computed from, in one place: AWS us-east-1,
// on-demand list prices from the pages below, as of 2026-12-06 (API Gateway's checked against
// AWS's own price table that day; DynamoDB's, SQS's and Lambda's as issue 23 quotes them), no
// free tier, no savings plan. A deployer in another region replaces these numbers and nothing else.
export const PRICES = {
  asOf: '2026-12-06',
  region: 'us-east-1',
  sources: [
    'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    'https://aws.amazon.com/sqs/pricing/',
    'https://aws.amazon.com/lambda/pricing/',
    'https://aws.amazon.com/api-gateway/pricing/',
  ],
  /** DynamoDB on-demand, Standard table class: per write request unit (1 KB) and read request unit (4 KB). */
  dynamodbWriteUnit: 0.625 / 1e6,
  dynamodbReadUnit: 0.125 / 1e6,
  /** SQS FIFO, per request (each 64 KB chunk of a payload is a request). */
  sqsFifoRequest: 0.5 / 1e6,
  /** Lambda on arm64: per invocation, and per GB-second of billed duration (rounded up to 1 ms). */
  lambdaRequest: 0.2 / 1e6,
  lambdaArmGbSecond: 0.0000133334,
  /** API Gateway, first 333 million (REST) / 300 million (HTTP) requests a month; the HTTP API meters a request per 512 KB. */
  apiGatewayRestRequest: 3.5 / 1e6,
  apiGatewayHttpRequest: 1.0 / 1e6,
} as const;
