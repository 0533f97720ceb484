import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, Like } from 'typeorm';
import { DomainError, ErrorCode, type Principal } from '@gridflow/common';
import { OrgDirectory } from '@gridflow/domain';
import { OrgUnitEntity } from '@gridflow/persistence';
import { PrincipalLoader } from '../auth/principal.loader.js';
import type { UpdateOrgUnitDto } from './dto/org-unit.dto.js';

/** Renames or disables/enables a unit. A unit with enabled units below it cannot be disabled. */
@Injectable()
export class UpdateOrgUnitUseCase {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly org: OrgDirectory,
    private readonly principals: PrincipalLoader,
  ) {}

  async execute(principal: Principal, id: string, cmd: UpdateOrgUnitDto): Promise<OrgUnitEntity> {
    const unit = await this.org.getInScope(principal, id);
    if (unit.path === principal.orgUnitPath && cmd.disabled) {
      throw new DomainError(ErrorCode.FORBIDDEN, 'You cannot disable your own unit');
    }
    const repo = this.ds.getRepository(OrgUnitEntity);
    if (cmd.disabled === true && !unit.disabled) {
      const activeBelow = await repo.count({ where: { path: Like(`${unit.path}%`), disabled: false } });
      if (activeBelow > 1) {
        throw new DomainError(ErrorCode.ORG_UNIT_HAS_ACTIVE_CHILDREN, 'Disable the units below this one first', {
          activeDescendants: activeBelow - 1,
        });
      }
    }
    const patch: Partial<OrgUnitEntity> = {};
    if (cmd.name !== undefined) patch.name = cmd.name;
    if (cmd.disabled !== undefined) patch.disabled = cmd.disabled;
    if (Object.keys(patch).length) await repo.update({ id }, patch);
    // a disabled unit refuses its users from their next request on
    if (patch.disabled !== undefined) this.principals.forget();
    return repo.findOneByOrFail({ id });
  }
}
