import { DriverError } from '../../shared/errors.js';
import { NotYet } from '../driver.js';

// EC2's errors, sorted by what the operation does with them. Codes from EC2's API reference,
// "Error codes for the Amazon EC2 API".

/** The request cannot succeed as asked: the operation ends, as Nova's would, with a fault naming EC2's code. */
const FINAL = new Set([
  'InsufficientInstanceCapacity', 'InstanceLimitExceeded', 'VcpuLimitExceeded', 'InsufficientCapacity',
  'InvalidParameterValue', 'InvalidParameterCombination', 'InvalidParameter', 'MissingParameter',
  'InvalidAMIID.NotFound', 'InvalidAMIID.Malformed', 'InvalidAMIID.Unavailable', 'InvalidSubnetID.NotFound',
  'InvalidGroup.NotFound', 'InvalidKeyPair.NotFound', 'InvalidVolume.NotFound', 'InvalidNetworkInterfaceID.NotFound',
  'InvalidVolume.ZoneMismatch', 'VolumeInUse', 'Unsupported', 'UnsupportedOperation', 'UnsupportedHibernationConfiguration',
  'UnauthorizedOperation', 'OperationNotPermitted',
]);

/** EC2 is busy or throttling: the step comes back later (the queue's backoff, after the SDK's own). */
const TRANSIENT = new Set([
  'RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'ServiceUnavailable', 'Unavailable', 'InternalError',
  'IncorrectInstanceState', 'IncorrectState', 'ConcurrentTagAccess',
  // A CreateImage made before (its AMI's name is the image id's) that DescribeImages does not list yet.
  'InvalidAMIName.Duplicate',
]);

/** The instance is not there (any more). */
export const VANISHED = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed']);

export const codeOf = (err: unknown): string | undefined => (err instanceof Error ? err.name : undefined);

export const vanished = (serverId: string, detail: string) =>
  new DriverError(`EC2 instance of server ${serverId} vanished (${detail})`);

/**
 * What a failed EC2 call means for the operation: a DriverError ends it with a fault, a NotYet
 * brings it back later, anything else is rethrown as a crash (redelivered, at most until the
 * queue dead-letters it).
 */
export function classify(err: unknown, serverId: string, retrySeconds: number): Error {
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code && FINAL.has(code)) return new DriverError(`EC2 ${code}: ${message}`, 500, { cause: err });
  if (code && VANISHED.has(code)) return vanished(serverId, code);
  if (code && TRANSIENT.has(code)) return new NotYet(retrySeconds, `EC2 ${code}`);
  return err instanceof Error ? err : new Error(message);
}
