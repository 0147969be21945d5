// Domain errors. The API maps each kind to Nova's status and body; the domain knows no HTTP.

export type DomainErrorKind =
  | 'badRequest' | 'forbidden' | 'itemNotFound' | 'conflictingRequest' | 'serviceUnavailable';

export class DomainError extends Error {
  constructor(readonly kind: DomainErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class BadRequest extends DomainError {
  constructor(message: string) { super('badRequest', message); }
}
export class Forbidden extends DomainError {
  constructor(message: string) { super('forbidden', message); }
}
export class NotFound extends DomainError {
  constructor(message: string) { super('itemNotFound', message); }
}
export class Conflict extends DomainError {
  constructor(message: string) { super('conflictingRequest', message); }
}
/** The message is the client's; the cause (an AWS client's error, say) is only logged. */
export class ServiceUnavailable extends DomainError {
  constructor(message: string, options?: ErrorOptions) { super('serviceUnavailable', message, options); }
}

/** A driver step failed: the operation ends with its failure outcome and a fault. */
export class DriverError extends Error {
  constructor(message: string, readonly code = 500) {
    super(message);
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
