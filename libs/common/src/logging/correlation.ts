import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

interface CorrelationStore {
  correlationId: string;
}

const storage = new AsyncLocalStorage<CorrelationStore>();
const HEADER = 'x-correlation-id';
const VALID = /^[A-Za-z0-9._-]{8,64}$/;

export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

/** Runs fn with a correlation id in scope (used by queue consumers for each job). */
export function withCorrelationId<T>(correlationId: string | undefined, fn: () => T): T {
  return storage.run({ correlationId: correlationId ?? randomUUID() }, fn);
}

/** A client-supplied id is kept when it looks sane; otherwise one is made. */
export function correlationIdFor(req: Request): string {
  const header = req.headers[HEADER];
  if (typeof header === 'string' && VALID.test(header)) return header;
  const existing = (req as Request & { id?: unknown }).id;
  return typeof existing === 'string' ? existing : randomUUID();
}

/** Express middleware: every request carries a correlation id, echoed in the response header. */
export function correlationMiddleware(req: Request, res: Response, next: NextFunction): void {
  const id = correlationIdFor(req);
  (req as Request & { id?: string }).id = id;
  res.setHeader(HEADER, id);
  storage.run({ correlationId: id }, next);
}
