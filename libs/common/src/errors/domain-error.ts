import { ErrorCode } from './error-codes.js';

/**
 * Thrown by use cases and services. Carries a stable code; the HTTP layer maps it to a status.
 * Services never throw HTTP exceptions.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string) {
    super(ErrorCode.NOT_FOUND, `${what} not found`);
  }
}
