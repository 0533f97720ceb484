import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Request } from 'express';
import type { Permission, Principal } from './roles.js';

export const IS_PUBLIC = 'gridflow:public';
export const REQUIRED_PERMISSION = 'gridflow:permission';

/** Opens a route to callers without a token. Everything else is denied by default. */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Requires a valid token and, optionally, a permission of the caller's roles. */
export function Authenticated(options: { permission?: Permission } = {}) {
  return applyDecorators(
    SetMetadata(REQUIRED_PERMISSION, options.permission ?? null),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ description: 'Missing, expired or invalid token' }),
    ...(options.permission ? [ApiForbiddenResponse({ description: `Requires ${options.permission}` })] : []),
  );
}

export type AuthenticatedRequest = Request & { user?: Principal };

/** The authenticated principal of this request. */
export const Auth = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
  if (!req.user) throw new Error('Auth() used on a route without authentication');
  return req.user;
});
