import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import {
  atDistrictLevel,
  AuthenticatedRequest,
  DISTRICT_WIDE_PERMISSIONS,
  DomainError,
  ErrorCode,
  IS_PUBLIC,
  isDependencyUnavailable,
  type Permission,
  permissionsOf,
  REQUIRED_PERMISSION,
} from '@gridflow/common';

/** Default deny: every route needs a valid access token unless it is marked @Public(). */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override canActivate(ctx: ExecutionContext) {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [ctx.getHandler(), ctx.getClass()]);
    if (isPublic) return true;
    return super.canActivate(ctx);
  }

  override handleRequest<T>(err: unknown, user: T | false): T {
    if (err instanceof DomainError) throw err;
    // a database that does not answer while the principal is loaded is a 503, not a bad token
    if (isDependencyUnavailable(err)) throw err;
    if (err || !user) {
      throw new UnauthorizedException({ code: ErrorCode.UNAUTHENTICATED, message: 'A valid access token is required' });
    }
    return user;
  }
}

/**
 * Checks the permission named by @Authenticated({permission}) against the caller's roles; a district-wide one also
 * needs the caller to sit at the district itself (DISTRICT_WIDE_PERMISSIONS).
 */
@Injectable()
export class PermissionGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(ctx: ExecutionContext): boolean {
    const permission = this.reflector.getAllAndOverride<Permission | null>(REQUIRED_PERMISSION, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    if (!permission) return true;
    const user = ctx.switchToHttp().getRequest<AuthenticatedRequest>().user;
    if (!user || !permissionsOf(user.roles).has(permission)) {
      throw new DomainError(ErrorCode.FORBIDDEN, `This action requires the ${permission} permission`);
    }
    if (DISTRICT_WIDE_PERMISSIONS.has(permission) && !atDistrictLevel(user)) {
      throw new DomainError(
        ErrorCode.FORBIDDEN,
        `${permission} changes settings of the whole district: it needs an administrator of the district itself`,
      );
    }
    return true;
  }
}
