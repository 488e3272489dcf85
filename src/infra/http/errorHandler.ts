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

export function errorBody(code: string, message: string, details?: unknown): { status: 'error'; error: { code: string; message: string; details?: unknown } } {
  return { status: 'error', error: details === undefined ? { code, message } : { code, message, details } };
}

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
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
    logger.error({ err: error, reqId: req.id }, 'unhandled error');
    res.status(500).json(errorBody('INTERNAL', 'Internal server error'));
  };
}

export function notFoundHandler(req: Request, res: Response): void {
  res.status(404).json(errorBody('ROUTE_NOT_FOUND', `No route for ${req.method} ${req.path}`));
}
