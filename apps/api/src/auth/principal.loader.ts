import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { type AuthConfig, DomainError, ErrorCode, type Principal, type Role } from '@gridflow/common';

/** Above this many cached callers the cache starts over (a bound on memory, not an eviction policy). */
const MAX_CACHED = 10_000;

/**
 * Loads the caller of a request: the user and its unit (one indexed join), so a disabled user or unit is refused
 * rather than served until the access token expires. A caller read within the last `PRINCIPAL_CACHE_MS` (1 s by
 * default) is reused: a busy caller costs one read per second, not one per request. Changes made through this API
 * process (users and units edited here) drop the cache at once; one made through another API process applies
 * within that time. Refusals are never cached.
 */
@Injectable()
export class PrincipalLoader {
  private readonly ttlMs: number;
  private readonly cache = new Map<string, { principal: Principal; until: number }>();

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    config: ConfigService,
  ) {
    this.ttlMs = config.getOrThrow<AuthConfig>('auth').principalCacheMs;
  }

  async load(userId: string): Promise<Principal> {
    const cached = this.ttlMs > 0 ? this.cache.get(userId) : undefined;
    if (cached && cached.until > Date.now()) return cached.principal;
    const rows = (await this.ds.query(
      `SELECT u.id, u.username, u.roles, u.disabled, u.org_unit_id AS orgUnitId, o.path, o.disabled AS unitDisabled
         FROM users u JOIN org_units o ON o.id = u.org_unit_id WHERE u.id = ?`,
      [userId],
    )) as {
      id: string;
      username: string;
      roles: string;
      disabled: number;
      orgUnitId: string;
      path: string;
      unitDisabled: number;
    }[];
    const row = rows[0];
    if (!row) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Unknown user');
    if (row.disabled || row.unitDisabled) throw new DomainError(ErrorCode.USER_DISABLED, 'This account is disabled');
    const principal: Principal = Object.freeze({
      userId: row.id,
      username: row.username,
      orgUnitId: row.orgUnitId,
      orgUnitPath: row.path,
      roles: Object.freeze((row.roles ? row.roles.split(',') : []) as Role[]) as Role[],
    });
    if (this.ttlMs > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(userId, { principal, until: Date.now() + this.ttlMs });
    }
    return principal;
  }

  /** Drops cached callers: one user after a change to it, everyone after a change to a unit. */
  forget(userId?: string): void {
    if (userId === undefined) this.cache.clear();
    else this.cache.delete(userId);
  }
}
