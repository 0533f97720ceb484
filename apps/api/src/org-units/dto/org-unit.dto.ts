import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsNotEmpty, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { Optional } from '../../common/optional.js';
import { ORG_UNIT_KINDS, type OrgUnitKind } from '@gridflow/persistence';
import { PageQuery } from '../../common/pagination.js';

export class OrgUnitView {
  @ApiProperty() id: string;
  @ApiProperty() code: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ORG_UNIT_KINDS }) kind: OrgUnitKind;
  @ApiProperty({ nullable: true, type: String }) parentId: string | null;
  @ApiProperty({ description: 'Materialised path of ids from the root' }) path: string;
  @ApiProperty() disabled: boolean;
}

export class ListOrgUnitsQuery extends PageQuery {
  @ApiPropertyOptional()
  @IsOptional()
  @IsUUID()
  parentId?: string;

  @ApiPropertyOptional({ enum: ORG_UNIT_KINDS })
  @IsOptional()
  @IsIn(ORG_UNIT_KINDS)
  kind?: OrgUnitKind;
}

export class CreateOrgUnitDto {
  @ApiProperty({ example: 'xh-jd1-sq4' })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9-]{1,63}$/, { message: 'code must be 2–64 lowercase letters, digits or dashes' })
  code: string;

  @ApiProperty({ example: '新风社区' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  name: string;

  @ApiProperty({ enum: ORG_UNIT_KINDS })
  @IsIn(ORG_UNIT_KINDS)
  kind: OrgUnitKind;

  @ApiProperty()
  @IsUUID()
  parentId: string;
}

export class UpdateOrgUnitDto {
  @ApiPropertyOptional()
  @Optional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(128)
  name?: string;

  @ApiPropertyOptional()
  @Optional()
  @IsBoolean()
  disabled?: boolean;
}
