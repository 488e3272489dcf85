import type { NextFunction, Request, Response } from 'express';
import { AppError, type ErrorKind } from '../../errors';
import type { Logger } from '../logger';

const statusByKind: Record<ErrorKind, number> = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  bad_gateway: 502,
};

export function statusOf(error: AppError): number {
  return statusByKind[error.kind];
}

export function errorBody(code: string, message: string, details?: unknown): { status: 'error'; error: { code: string; message: string; details?: unknown } } {
  return { status: 'error', error: details === undefined ? { code, message } : { code, message, details } };
}

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
}

interface DriverError {
  code?: unknown;
  severity?: unknown;
  routine?: unknown;
}

/** A PostgreSQL error as the pg driver raises it: a five-character SQLSTATE and a severity. */
function isDatabaseError(error: unknown): error is DriverError & { code: string } {
  const e = error as DriverError;
  return typeof error === 'object' && error !== null && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === 'string';
}

/**
 * SQLSTATE class 22 (data exception: datetime or numeric out of range, invalid text representation,
 * invalid byte sequence, untranslatable character…) and 54 (program limit exceeded) are raised by
 * values that came with a request and that validation let through: the request is at fault.
 */
function isRefusedValue(error: DriverError & { code: string }): boolean {
  return error.code.startsWith('22') || error.code.startsWith('54');
}

/** What the log may say about a database error: never its message, SQL or bound values. */
function databaseErrorForLog(error: DriverError & { code: string }): Record<string, unknown> {
  return { code: error.code, severity: error.severity, routine: error.routine };
}

/** Maps every error to `{ status: 'error', error: { code, message, details? } }`; never leaks stacks or SQL. */
export function errorHandler(logger: Logger) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    if (error instanceof AppError) {
      const status = statusByKind[error.kind];
      if (status >= 500) {
        logger.warn({ err: { code: error.code, message: error.message, ...(error.logDetail ? { detail: error.logDetail } : {}) }, reqId: req.id }, 'request failed');
      }
      res.status(status).json(errorBody(error.code, error.message, error.details));
      return;
    }
    const parserError = error as BodyParserError;
    if (parserError.type === 'entity.too.large') {
      res.status(413).json(errorBody('PAYLOAD_TOO_LARGE', 'Request body is too large'));
      return;
    }
    if (parserError.type === 'entity.parse.failed') {
      res.status(400).json(errorBody('MALFORMED_JSON', 'Request body is not valid JSON'));
      return;
    }
    if (parserError.type === 'encoding.unsupported' || parserError.type === 'charset.unsupported') {
      res.status(415).json(errorBody('UNSUPPORTED_ENCODING', 'Request body encoding is not supported'));
      return;
    }
    if (typeof parserError.status === 'number' && parserError.status >= 400 && parserError.status < 500 && parserError.expose) {
      res.status(parserError.status).json(errorBody('BAD_REQUEST', 'The request could not be read'));
      return;
    }
    if (error instanceof URIError) {
      res.status(400).json(errorBody('MALFORMED_URL', 'The request URL is not valid percent-encoded UTF-8'));
      return;
    }
    if (isDatabaseError(error)) {
      if (isRefusedValue(error)) {
        logger.warn({ err: databaseErrorForLog(error), reqId: req.id }, 'request refused by the database');
        res.status(400).json(errorBody('INVALID_VALUE', 'A value in the request is out of range or not in a valid form'));
        return;
      }
      logger.error({ err: databaseErrorForLog(error), reqId: req.id }, 'unhandled database error');
      res.status(500).json(errorBody('INTERNAL', 'Internal server error'));
      return;
    }
    logger.error({ err: error, reqId: req.id }, 'unhandled error');
    res.status(500).json(errorBody('INTERNAL', 'Internal server error'));
  };
}

export function notFoundHandler(req: Request, res: Response): void {
  res.status(404).json(errorBody('ROUTE_NOT_FOUND', `No route for ${req.method} ${req.path}`));
}
