// Domain errors. The API maps each kind to Nova's status and body; the domain knows no HTTP.

export type DomainErrorKind =
  | 'badRequest' | 'forbidden' | 'itemNotFound' | 'conflictingRequest' | 'serviceUnavailable' | 'notImplemented';

// Each takes ErrorOptions: an error raised because of another carries it as its `cause`.

/**
 * `type` names the error as a service whose errors carry a name says it (Neutron's
 * `NetworkNotFound`, `IpAddressGenerationFailure`); services whose bodies have none ignore it.
 */
export interface DomainErrorOptions extends ErrorOptions {
  readonly type?: string;
  /**
   * The request failed after a write of its own that it could not undo (its compensation failed):
   * whoever holds its Idempotency-Key keeps it, so that a retry goes on as this request.
   */
  readonly mayHaveChanged?: true;
}

export class DomainError extends Error {
  readonly type?: string;
  readonly mayHaveChanged?: true;
  constructor(readonly kind: DomainErrorKind, message: string, options?: DomainErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    if (options?.type) this.type = options.type;
    if (options?.mayHaveChanged) this.mayHaveChanged = true;
  }
}

export class BadRequest extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) { super('badRequest', message, options); }
}
export class Forbidden extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) { super('forbidden', message, options); }
}
export class NotFound extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) { super('itemNotFound', message, options); }
}
export class Conflict extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) { super('conflictingRequest', message, options); }
}
/** The message is the client's; the cause (an AWS client's error, say) is only logged. */
export class ServiceUnavailable extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) { super('serviceUnavailable', message, options); }
}

/** What this deployment cannot do (Nova's raise_feature_not_supported: 501). */
export class NotImplemented extends DomainError {
  constructor(message = 'The requested functionality is not supported.', options?: DomainErrorOptions) { super('notImplemented', message, options); }
}

/** A driver step failed: the operation ends with its failure outcome and a fault. */
export class DriverError extends Error {
  constructor(message: string, readonly code = 500, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DriverError';
  }
}

/** Raised when this worker's claim was superseded: it must stop and change nothing more. */
export class FencedOut extends Error {
  constructor(readonly instanceId: string, readonly token: number) {
    super(`claim ${token} on instance ${instanceId} was superseded`);
    this.name = 'FencedOut';
  }
}
