import { createSecretKey } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { AuthConfig, DomainError, ErrorCode, type Principal } from '@gridflow/common';
import { PrincipalLoader } from './principal.loader.js';
import { JWT_ALGORITHM } from './token.service.js';

/**
 * Bearer access tokens: HS256 only (pinned, so `none` and RS/HS confusion fail), signature and `exp` checked,
 * and a token without `exp` refused outright.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    config: ConfigService,
    private readonly principals: PrincipalLoader,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // a KeyObject: given a string, the verifier first tries (and fails) to parse it as a PEM public key on every
      // request, which costs more than the HMAC itself
      secretOrKey: createSecretKey(Buffer.from(config.getOrThrow<AuthConfig>('auth').jwtSecret)) as unknown as string,
      algorithms: [JWT_ALGORITHM],
      ignoreExpiration: false,
    });
  }

  async validate(payload: { sub?: unknown; typ?: unknown; exp?: unknown }): Promise<Principal> {
    if (typeof payload.exp !== 'number' || payload.typ !== 'access' || typeof payload.sub !== 'string') {
      throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Invalid access token');
    }
    return this.principals.load(payload.sub);
  }
}
