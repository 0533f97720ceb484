import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError, ErrorCode, newId, type Principal } from '@gridflow/common';
import { OrgDirectory } from '@gridflow/domain';
import { OrgUnitEntity } from '@gridflow/persistence';
import type { CreateOrgUnitDto } from './dto/org-unit.dto.js';
import { ALLOWED_PARENT_KINDS } from './org-unit-rules.js';

@Injectable()
export class CreateOrgUnitUseCase {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly org: OrgDirectory,
  ) {}

  async execute(principal: Principal, cmd: CreateOrgUnitDto): Promise<OrgUnitEntity> {
    const parent = await this.org.getInScope(principal, cmd.parentId);
    if (!ALLOWED_PARENT_KINDS[cmd.kind].includes(parent.kind)) {
      throw new DomainError(ErrorCode.ORG_UNIT_PARENT_INVALID, `A ${cmd.kind} cannot be placed under a ${parent.kind}`, {
        allowedParentKinds: ALLOWED_PARENT_KINDS[cmd.kind],
      });
    }
    if (parent.disabled) throw new DomainError(ErrorCode.ORG_UNIT_PARENT_INVALID, 'The parent unit is disabled');
    const repo = this.ds.getRepository(OrgUnitEntity);
    if (await repo.existsBy({ code: cmd.code })) {
      throw new DomainError(ErrorCode.ORG_UNIT_CODE_TAKEN, `Org unit code ${cmd.code} is already taken`);
    }
    const id = newId();
    const unit = repo.create({
      id,
      code: cmd.code,
      name: cmd.name,
      kind: cmd.kind,
      parentId: parent.id,
      path: `${parent.path}${id}/`,
      depth: parent.depth + 1,
      disabled: false,
    });
    try {
      await repo.insert(unit);
    } catch (e) {
      if ((e as { code?: string }).code === 'ER_DUP_ENTRY') {
        throw new DomainError(ErrorCode.ORG_UNIT_CODE_TAKEN, `Org unit code ${cmd.code} is already taken`);
      }
      throw e;
    }
    return (await repo.findOneByOrFail({ id }));
  }
}
