import { timings, timingsFromEnv, ConfigError, type TimingInputs } from '../../functions/core/shared/config.js';
import { logicalId, synth } from './synth.js';

// The stack's durations tie together as Lambda and SQS need them; read back from the template
// (what is deployed), through the same configuration reader the handlers use.

function deployed(inputs?: Partial<TimingInputs>) {
  const { stack, template } = synth({ timings: inputs });
  const resources = template.toJSON().Resources as Record<string, { Properties: any }>;
  const compute = resources[logicalId(stack, stack.functions.compute.fn)]!.Properties;
  const api = resources[logicalId(stack, stack.functions.api.fn)]!.Properties;
  const queue = resources[logicalId(stack, stack.queues.queue)]!.Properties;
  return {
    apiTimeout: api.Timeout as number,
    functionTimeout: compute.Timeout as number,
    visibility: queue.VisibilityTimeout as number,
    maxReceiveCount: queue.RedrivePolicy.maxReceiveCount as number,
    worker: timingsFromEnv(compute.Environment.Variables),
    admission: timingsFromEnv(api.Environment.Variables),
  };
}

describe.each([
  ['the defaults', undefined],
  ['a 1/60 scale', { computeTimeoutSeconds: 1, visibilityTimeoutSeconds: 6, leaseMarginSeconds: 1 }],
  ['a long compute timeout', { computeTimeoutSeconds: 900, maxReceiveCount: 3 }],
])('as deployed with %s', (_, inputs) => {
  const d = deployed(inputs);

  it('the handlers read the durations the queue and the function are built with', () => {
    expect(d.worker.computeTimeoutSeconds).toBe(d.functionTimeout);
    expect(d.worker.visibilityTimeoutSeconds).toBe(d.visibility);
    expect(d.worker.maxReceiveCount).toBe(d.maxReceiveCount);
    expect(d.admission).toEqual(d.worker);
  });

  it('a message stays invisible longer than the function can run', () => {
    expect(d.functionTimeout).toBeLessThan(d.visibility);
  });

  it('a run lease outlasts a live invocation and has expired when the message comes back', () => {
    expect(d.worker.runLeaseSeconds).toBeGreaterThan(d.functionTimeout);
    // Worst case: the last checkpoint at the very end of the invocation.
    expect(d.functionTimeout + d.worker.runLeaseSeconds).toBeLessThan(d.visibility);
  });

  it('a claim lease outlasts every redelivery, so the dead-letter handler ends a failing message before the sweeper', () => {
    expect(d.worker.claimLeaseSeconds).toBeGreaterThan(d.maxReceiveCount * d.visibility);
  });

  it('a volume\'s reservation outlasts any API invocation that could still claim for it, and is shorter than a claim', () => {
    expect(d.admission.apiTimeoutSeconds).toBe(d.apiTimeout);
    expect(d.admission.reservationLeaseSeconds).toBeGreaterThan(d.apiTimeout);
    expect(d.apiTimeout).toBeLessThan(29); // API Gateway's integration timeout
    expect(d.admission.reservationLeaseSeconds).toBeLessThan(d.admission.claimLeaseSeconds);
  });
});

describe('durations that cannot work are refused at synth', () => {
  it('refuses a visibility timeout that a redelivery would find the run lease alive at', () => {
    expect(() => timings({ computeTimeoutSeconds: 60, visibilityTimeoutSeconds: 120 })).toThrow(ConfigError);
    expect(() => synth({ timings: { computeTimeoutSeconds: 60, visibilityTimeoutSeconds: 60 } })).toThrow(/visibility timeout/);
  });

  it('refuses an API timeout over API Gateway\'s 29 s', () => {
    expect(() => timings({ apiTimeoutSeconds: 30 })).toThrow(/API Gateway/);
    expect(() => timingsFromEnv({ TASKGATE_API_TIMEOUT_SECONDS: '60' })).toThrow(/TASKGATE_API_TIMEOUT_SECONDS/);
  });

  it('refuses a variable that is not a whole number, naming it', () => {
    expect(() => timingsFromEnv({ TASKGATE_COMPUTE_TIMEOUT_SECONDS: 'sixty' })).toThrow(/TASKGATE_COMPUTE_TIMEOUT_SECONDS/);
    expect(() => timingsFromEnv({ TASKGATE_MAX_RECEIVE_COUNT: '0' })).toThrow(/TASKGATE_MAX_RECEIVE_COUNT/);
  });
});
