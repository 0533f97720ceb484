import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, ErrorCode, type Principal, type Role } from '@gridflow/common';

/**
 * Loads the caller on every request (one indexed join), so a disabled user or unit is refused at once
 * rather than when the access token expires.
 */
@Injectable()
export class PrincipalLoader {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async load(userId: string): Promise<Principal> {
    const rows = (await this.ds.query(
      `SELECT u.id, u.username, u.roles, u.disabled, u.org_unit_id AS orgUnitId, o.path, o.disabled AS unitDisabled
         FROM users u JOIN org_units o ON o.id = u.org_unit_id WHERE u.id = ?`,
      [userId],
    )) as { id: string; username: string; roles: string; disabled: number; orgUnitId: string; path: string; unitDisabled: number }[];
    const row = rows[0];
    if (!row) throw new DomainError(ErrorCode.UNAUTHENTICATED, 'Unknown user');
    if (row.disabled || row.unitDisabled) throw new DomainError(ErrorCode.USER_DISABLED, 'This account is disabled');
    return {
      userId: row.id,
      username: row.username,
      orgUnitId: row.orgUnitId,
      orgUnitPath: row.path,
      roles: (row.roles ? row.roles.split(',') : []) as Role[],
    };
  }
}
