/**
 * Stable, upper-snake error codes: part of the public API. Add codes; never rename one.
 * Each maps to one HTTP status in the exception filter.
 */
export const ErrorCode = {
  // generic
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  MALFORMED_JSON: 'MALFORMED_JSON',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  NOT_FOUND: 'NOT_FOUND',
  ROUTE_NOT_FOUND: 'ROUTE_NOT_FOUND',
  CONFLICT: 'CONFLICT',
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  RATE_LIMITED: 'RATE_LIMITED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  // auth
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  INVALID_REFRESH_TOKEN: 'INVALID_REFRESH_TOKEN',
  USER_DISABLED: 'USER_DISABLED',
  FORBIDDEN: 'FORBIDDEN',
  // org and users
  ORG_UNIT_CODE_TAKEN: 'ORG_UNIT_CODE_TAKEN',
  ORG_UNIT_PARENT_INVALID: 'ORG_UNIT_PARENT_INVALID',
  ORG_UNIT_HAS_ACTIVE_CHILDREN: 'ORG_UNIT_HAS_ACTIVE_CHILDREN',
  USERNAME_TAKEN: 'USERNAME_TAKEN',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode] | (string & {});

const STATUS: Record<string, number> = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  CONFLICT: 409,
  VERSION_CONFLICT: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  INVALID_REFRESH_TOKEN: 401,
  USER_DISABLED: 401,
  FORBIDDEN: 403,
  ORG_UNIT_CODE_TAKEN: 409,
  ORG_UNIT_PARENT_INVALID: 422,
  ORG_UNIT_HAS_ACTIVE_CHILDREN: 409,
  USERNAME_TAKEN: 409,
};

/** Domain rule violations not listed above (engine refusals, money rules) are 422. */
export function statusForCode(code: string): number {
  return STATUS[code] ?? 422;
}

/** Lets a feature register the statuses of its own codes (e.g. 404 for a missing workflow). */
export function registerErrorStatuses(map: Record<string, number>): void {
  Object.assign(STATUS, map);
}
