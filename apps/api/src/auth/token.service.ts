import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource, EntityManager, IsNull } from 'typeorm';
import { AuthConfig, DomainError, ErrorCode, newId } from '@gridflow/common';
import { RefreshTokenEntity, UserEntity } from '@gridflow/persistence';

export const JWT_ALGORITHM = 'HS256' as const;

export interface AccessClaims {
  sub: string;
  typ: 'access';
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Issues short-lived access tokens and rotating, hashed, revocable refresh tokens. */
@Injectable()
export class TokenService {
  private readonly auth: AuthConfig;

  constructor(
    private readonly jwt: JwtService,
    config: ConfigService,
    @InjectDataSource() private readonly ds: DataSource,
  ) {
    this.auth = config.getOrThrow<AuthConfig>('auth');
  }

  async issue(
    user: UserEntity,
    familyId = newId(),
    em: EntityManager = this.ds.manager,
  ): Promise<IssuedTokens & { refreshId: string }> {
    const claims: AccessClaims = { sub: user.id, typ: 'access' };
    const accessToken = await this.jwt.signAsync(claims, {
      algorithm: JWT_ALGORITHM,
      expiresIn: this.auth.accessTtlSeconds,
      jwtid: newId(),
    });
    const secret = randomBytes(32).toString('base64url');
    const refreshId = newId();
    await em.getRepository(RefreshTokenEntity).insert({
      id: refreshId,
      userId: user.id,
      familyId,
      tokenHash: sha256(secret),
      expiresAt: new Date(Date.now() + this.auth.refreshTtlSeconds * 1000),
      revokedAt: null,
      replacedById: null,
    });
    return { accessToken, refreshToken: `${refreshId}.${secret}`, expiresIn: this.auth.accessTtlSeconds, refreshId };
  }

  /**
   * Rotates a refresh token: the presented token is revoked and a successor issued in the same family.
   * A token presented after it was rotated or revoked revokes its whole family: someone holds a stolen copy.
   */
  async rotate(presented: string): Promise<{ user: UserEntity; tokens: IssuedTokens }> {
    const parts = refreshParts(presented);
    const outcome = await this.ds.transaction(async (em) => {
      if (!parts) return 'invalid' as const;
      const repo = em.getRepository(RefreshTokenEntity);
      const token = await repo.findOne({
        where: { tokenHash: sha256(parts.secret) },
        lock: { mode: 'pessimistic_write' },
      });
      if (!token || token.id !== parts.id) return 'invalid' as const;
      if (token.revokedAt) {
        // committed before the refusal below: the family stays revoked
        await repo.update({ familyId: token.familyId, revokedAt: IsNull() }, { revokedAt: new Date() });
        return 'invalid' as const;
      }
      if (token.expiresAt.getTime() <= Date.now()) return 'invalid' as const;
      const user = await em.getRepository(UserEntity).findOneBy({ id: token.userId });
      if (!user || user.disabled) return 'disabled' as const;
      const { refreshId, ...tokens } = await this.issue(user, token.familyId, em);
      await repo.update({ id: token.id }, { revokedAt: new Date(), replacedById: refreshId });
      return { user, tokens };
    });
    if (outcome === 'invalid')
      throw new DomainError(ErrorCode.INVALID_REFRESH_TOKEN, 'Refresh token is invalid, expired or revoked');
    if (outcome === 'disabled') throw new DomainError(ErrorCode.USER_DISABLED, 'This account is disabled');
    return outcome;
  }

  /** Revokes the family of the given refresh token (logout of this session). Unknown tokens are ignored. */
  async revokeFamily(presented: string): Promise<void> {
    const parts = refreshParts(presented);
    if (!parts) return;
    const repo = this.ds.getRepository(RefreshTokenEntity);
    const token = await repo.findOneBy({ tokenHash: sha256(parts.secret) });
    if (token && token.id === parts.id)
      await repo.update({ familyId: token.familyId, revokedAt: IsNull() }, { revokedAt: new Date() });
  }

  /** Revokes every refresh token of a user (disabled account, password change). */
  async revokeAllFor(userId: string, em: EntityManager = this.ds.manager): Promise<void> {
    await em.getRepository(RefreshTokenEntity).update({ userId, revokedAt: IsNull() }, { revokedAt: new Date() });
  }
}

/** A refresh token is exactly `<id>.<secret>`; anything else (extra dots, an empty half) is not one. */
function refreshParts(presented: string): { id: string; secret: string } | null {
  const parts = presented.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return null;
  return { id: parts[0], secret: parts[1] };
}
