import { CallHandler, ExecutionContext, HttpException, Injectable, NestInterceptor } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import type { Response } from 'express';
import { from, Observable, of, throwError } from 'rxjs';
import { catchError, mergeMap } from 'rxjs/operators';
import { DataSource } from 'typeorm';
import { AuthenticatedRequest, DomainError, ErrorCode, registerErrorStatuses, statusForCode } from '@gridflow/common';
import { canonicalJson } from '@gridflow/engine';
import { IdempotencyKeyEntity } from '@gridflow/persistence';

const KEY = /^[A-Za-z0-9._:-]{1,128}$/;
const IN_PROGRESS = 0;
/** The request failed in a way that may have come after its commit: a retry could do the work twice. */
const OUTCOME_UNKNOWN = 1;
/**
 * A key still "in progress" after this long belongs to a request whose process or database went away before it could
 * record an outcome (no request runs this long): it is answered as "outcome unknown" rather than "in progress" forever.
 */
export const IDEMPOTENCY_STALE_MS = 60_000;

registerErrorStatuses({ IDEMPOTENCY_OUTCOME_UNKNOWN: 409 });

/** Refusals (4xx) are thrown before anything commits; anything else may have committed. */
function refusedBeforeCommit(err: unknown): boolean {
  if (err instanceof DomainError) return statusForCode(err.code) < 500;
  if (err instanceof HttpException) return err.getStatus() < 500;
  return false;
}

/**
 * `Idempotency-Key` for creating POSTs and actions: the first request with a key runs and its response is stored
 * (per user); the same key with the same body replays that response; the same key with another body is 422.
 * A refused request (4xx) frees its key, so a client may correct and retry it; a request that failed otherwise
 * (5xx, lost connection) keeps its key as "outcome unknown" — its work may have committed — and a retry gets 409.
 * A key left "in progress" by a request that never finished (its process or database went away) turns into
 * "outcome unknown" after IDEMPOTENCY_STALE_MS.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    const res = ctx.switchToHttp().getResponse<Response>();
    const header = req.headers['idempotency-key'];
    if (header === undefined || !req.user) return next.handle();
    const key = Array.isArray(header) ? header[0] : header;
    if (!KEY.test(key)) {
      return throwError(() => new DomainError(ErrorCode.VALIDATION_FAILED, 'Idempotency-Key must be 1–128 characters of [A-Za-z0-9._:-]'));
    }
    const userId = req.user.userId;
    const requestHash = createHash('sha256')
      .update(`${req.method} ${req.originalUrl.split('?')[0]}\n${req.headers['if-match'] ?? ''}\n${canonicalJson(req.body ?? {})}`)
      .digest('hex');
    const repo = this.ds.getRepository(IdempotencyKeyEntity);

    return from(this.claim(userId, key, requestHash)).pipe(
      mergeMap((stored) => {
        if (stored) {
          res.status(stored.statusCode);
          res.setHeader('Idempotent-Replayed', 'true');
          return of(JSON.parse(stored.responseBody) as unknown);
        }
        return next.handle().pipe(
          mergeMap((body) =>
            from(repo.update({ userId, key }, { statusCode: res.statusCode, responseBody: JSON.stringify(body ?? null) })).pipe(
              mergeMap(() => of(body)),
            ),
          ),
          catchError((err: unknown) =>
            from(
              refusedBeforeCommit(err)
                ? repo.delete({ userId, key })
                : repo.update({ userId, key }, { statusCode: OUTCOME_UNKNOWN, responseBody: 'null' }),
            ).pipe(
              catchError(() => of(null)),
              mergeMap(() => throwError(() => err)),
            ),
          ),
        );
      }),
    );
  }

  /** Claims the key, or returns the stored response of an earlier identical request. */
  private async claim(userId: string, key: string, requestHash: string): Promise<IdempotencyKeyEntity | null> {
    const repo = this.ds.getRepository(IdempotencyKeyEntity);
    try {
      await repo.insert({ userId, key, requestHash, statusCode: IN_PROGRESS, responseBody: '' });
      return null;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ER_DUP_ENTRY') throw e;
    }
    const existing = await repo.findOneBy({ userId, key });
    if (!existing) return this.claim(userId, key, requestHash);
    if (existing.requestHash !== requestHash) {
      throw new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'This Idempotency-Key was used with a different request');
    }
    if (existing.statusCode === OUTCOME_UNKNOWN) {
      throw new DomainError(
        'IDEMPOTENCY_OUTCOME_UNKNOWN',
        'An earlier request with this Idempotency-Key failed after it may have taken effect; check the resource, then retry with a new key',
      );
    }
    if (existing.statusCode === IN_PROGRESS && Date.now() - existing.createdAt.getTime() > IDEMPOTENCY_STALE_MS) {
      await repo.update({ userId, key, statusCode: IN_PROGRESS }, { statusCode: OUTCOME_UNKNOWN, responseBody: 'null' });
      return this.claim(userId, key, requestHash);
    }
    if (existing.statusCode === IN_PROGRESS) {
      throw new DomainError(ErrorCode.CONFLICT, 'A request with this Idempotency-Key is still in progress');
    }
    return existing;
  }
}
