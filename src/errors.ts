/**
 * Errors with stable codes. Domain and query code throw these; the HTTP layer maps `kind` to a
 * status code and the CLI to an exit line. Nothing here knows about HTTP.
 */
export type ErrorKind =
  'validation' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'precondition_failed' | 'payload_too_large' | 'rate_limited' | 'unavailable' | 'bad_gateway';

export class AppError extends Error {
  /**
   * What happened, for the log only: a provider's own message, a driver's reason. Never part of a
   * response, whose message stays plain.
   */
  logDetail: string | undefined;

  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: unknown, code = 'VALIDATION_FAILED') {
    super('validation', code, message, details);
  }
}

export class NotFoundError extends AppError {
  constructor(code: string, message: string) {
    super('not_found', code, message);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super('conflict', code, message, details);
  }
}

export class UnavailableError extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super('unavailable', code, message, details);
  }
}
