import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { DomainError } from './domain-error.js';
import { ErrorCode, statusForCode } from './error-codes.js';
import { currentCorrelationId } from '../logging/correlation.js';

export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details?: unknown;
  correlationId: string;
}

const HTTP_CODES: Record<number, string> = {
  400: ErrorCode.VALIDATION_FAILED,
  401: ErrorCode.UNAUTHENTICATED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  409: ErrorCode.CONFLICT,
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  429: ErrorCode.RATE_LIMITED,
  503: ErrorCode.SERVICE_UNAVAILABLE,
};

/** Body-parser errors carry a `type`; map them before anything else. */
function fromBodyParser(err: unknown): { status: number; code: string; message: string } | null {
  if (typeof err !== 'object' || err === null || !('type' in err)) return null;
  const type = (err as { type?: unknown }).type;
  if (type === 'entity.parse.failed') return { status: 400, code: ErrorCode.MALFORMED_JSON, message: 'Malformed JSON body' };
  if (type === 'entity.too.large') return { status: 413, code: ErrorCode.PAYLOAD_TOO_LARGE, message: 'Request body too large' };
  if (type === 'charset.unsupported' || type === 'encoding.unsupported')
    return { status: 415, code: ErrorCode.UNSUPPORTED_MEDIA_TYPE, message: 'Unsupported body encoding' };
  return null;
}

/**
 * Connection-level database and Redis failures surface as 503 so clients retry instead of hanging. Exported for code
 * that catches errors before this filter sees them (an auth guard must not turn a missing database into a 401).
 */
export function isDependencyUnavailable(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return (
    typeof code === 'string' &&
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR', 'EPIPE'].includes(code)
  );
}

/** One error body everywhere: {statusCode, code, message, details?, correlationId}. Never a stack or SQL. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    const body = this.toBody(exception, req);
    if (res.headersSent) return;
    res.status(body.statusCode).json(body);
  }

  toBody(exception: unknown, req?: Request): ErrorBody {
    const correlationId = currentCorrelationId() ?? randomUUID();
    // Nest wraps body-parser errors in an HttpException; the original sits in `cause`
    const parsed = fromBodyParser(exception) ?? (exception instanceof Error ? fromBodyParser(exception.cause) : null);
    if (parsed) return { statusCode: parsed.status, code: parsed.code, message: parsed.message, correlationId };

    if (exception instanceof DomainError) {
      const statusCode = statusForCode(exception.code);
      return {
        statusCode,
        code: exception.code,
        message: exception.message,
        ...(exception.details !== undefined ? { details: exception.details } : {}),
        correlationId,
      };
    }

    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const response = exception.getResponse();
      const r = typeof response === 'object' && response !== null ? (response as Record<string, unknown>) : {};
      const code =
        typeof r.code === 'string'
          ? r.code
          : statusCode === 404 && req && !r.code && exception.constructor.name === 'NotFoundException'
            ? ErrorCode.ROUTE_NOT_FOUND
            : (HTTP_CODES[statusCode] ?? (statusCode >= 500 ? ErrorCode.INTERNAL_ERROR : 'HTTP_' + statusCode));
      const message =
        typeof r.message === 'string' ? r.message : typeof response === 'string' ? response : exception.message;
      return {
        statusCode,
        code,
        message,
        ...(r.details !== undefined ? { details: r.details } : {}),
        correlationId,
      };
    }

    if (isDependencyUnavailable(exception)) {
      this.logger.warn(`Dependency unavailable: ${(exception as Error).message} [${correlationId}]`);
      return {
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        code: ErrorCode.SERVICE_UNAVAILABLE,
        message: 'A backing service is unavailable; retry shortly',
        correlationId,
      };
    }

    const errorId = randomUUID();
    const err = exception instanceof Error ? exception : new Error(String(exception));
    this.logger.error(`Unhandled error ${errorId} [${correlationId}] ${req?.method ?? ''} ${req?.url ?? ''}: ${err.message}`, err.stack);
    return {
      statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
      code: ErrorCode.INTERNAL_ERROR,
      message: `Internal error (error id ${errorId})`,
      correlationId,
    };
  }
}
