import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  AuthConfig,
  DomainError,
  ErrorCode,
  hashPassword,
  newId,
  NotFoundError,
  type Principal,
  inScope,
} from '@gridflow/common';
import { OrgDirectory } from '@gridflow/domain';
import { UserEntity } from '@gridflow/persistence';
import { PrincipalLoader } from '../auth/principal.loader.js';
import { TokenService } from '../auth/token.service.js';
import type { CreateUserDto, UpdateUserDto } from './dto/user.dto.js';

/** Administration of users, always within the caller's subtree. */
@Injectable()
export class UsersService {
  private readonly log2N: number;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly org: OrgDirectory,
    private readonly tokens: TokenService,
    private readonly principals: PrincipalLoader,
    config: ConfigService,
  ) {
    this.log2N = config.getOrThrow<AuthConfig>('auth').passwordLog2N;
  }

  async list(
    principal: Principal,
    q: { orgUnitId?: string; limit: number; after?: string },
  ): Promise<{ items: UserEntity[]; nextId: string | null }> {
    const qb = this.ds
      .getRepository(UserEntity)
      .createQueryBuilder('u')
      .innerJoin('org_units', 'o', 'o.id = u.org_unit_id')
      .where('o.path LIKE :prefix', { prefix: `${principal.orgUnitPath}%` })
      .orderBy('u.id', 'ASC')
      .take(q.limit + 1);
    if (q.orgUnitId) qb.andWhere('u.org_unit_id = :unit', { unit: q.orgUnitId });
    if (q.after) qb.andWhere('u.id > :after', { after: q.after });
    const rows = await qb.getMany();
    const more = rows.length > q.limit;
    const items = more ? rows.slice(0, q.limit) : rows;
    return { items, nextId: more ? items[items.length - 1].id : null };
  }

  async create(principal: Principal, cmd: CreateUserDto): Promise<UserEntity> {
    await this.org.getInScope(principal, cmd.orgUnitId);
    const repo = this.ds.getRepository(UserEntity);
    if (await repo.existsBy({ username: cmd.username })) {
      throw new DomainError(ErrorCode.USERNAME_TAKEN, `Username ${cmd.username} is already taken`);
    }
    const user = repo.create({
      id: newId(),
      username: cmd.username,
      displayName: cmd.displayName,
      orgUnitId: cmd.orgUnitId,
      roles: cmd.roles,
      passwordHash: await hashPassword(cmd.password, this.log2N),
      disabled: false,
      phone: cmd.phone ?? null,
    });
    try {
      await repo.insert(user);
    } catch (e) {
      if ((e as { code?: string }).code === 'ER_DUP_ENTRY') {
        throw new DomainError(ErrorCode.USERNAME_TAKEN, `Username ${cmd.username} is already taken`);
      }
      throw e;
    }
    return user;
  }

  async update(principal: Principal, id: string, cmd: UpdateUserDto): Promise<UserEntity> {
    const user = await this.getInScope(principal, id);
    if (user.id === principal.userId && (cmd.disabled === true || (cmd.roles && !cmd.roles.includes('admin')))) {
      throw new DomainError(ErrorCode.FORBIDDEN, 'You cannot disable yourself or drop your own admin role');
    }
    const patch: Partial<UserEntity> = {};
    if (cmd.displayName !== undefined) patch.displayName = cmd.displayName;
    if (cmd.roles !== undefined) patch.roles = cmd.roles;
    if (cmd.disabled !== undefined) patch.disabled = cmd.disabled;
    if (cmd.phone !== undefined) patch.phone = cmd.phone;
    if (cmd.password !== undefined) patch.passwordHash = await hashPassword(cmd.password, this.log2N);
    await this.ds.transaction(async (em) => {
      if (Object.keys(patch).length) await em.getRepository(UserEntity).update({ id }, patch);
      if (cmd.disabled === true || cmd.password !== undefined) await this.tokens.revokeAllFor(id, em);
    });
    // roles and the disabled flag apply from this user's next request on
    this.principals.forget(id);
    return this.ds.getRepository(UserEntity).findOneByOrFail({ id });
  }

  async getInScope(principal: Principal, id: string): Promise<UserEntity> {
    const user = await this.ds.getRepository(UserEntity).findOneBy({ id });
    const unit = user ? await this.org.findById(user.orgUnitId) : null;
    if (!user || !unit || !inScope(principal, unit.path)) throw new NotFoundError('User');
    return user;
  }
}
