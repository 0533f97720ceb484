import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
  registerDecorator,
  type ValidationOptions,
} from 'class-validator';
import { Optional } from '../../common/optional.js';
import { ID_PATTERN } from '@gridflow/common';
import { CATALOG_CODE_PATTERN, WORKFLOW_KEY_PATTERN } from '@gridflow/domain';
import { ORG_UNIT_KINDS, type CategoryEntity, type PowerEntity } from '@gridflow/persistence';
import { MaxJsonBytes } from '../../common/max-json-bytes.js';

const CODE_MESSAGE = 'must be 2–64 upper-case letters, digits or underscores, starting with a letter';
const WORKFLOW_KEY_MESSAGE = 'workflowKey must be 2–64 lower-case letters, digits or dashes, starting with a letter';
/** `required_power_codes` is a VARCHAR(1000) of comma-separated codes of at most 64 characters. */
const MAX_REQUIRED_POWERS = 15;

/**
 * A category's timer policy: an object (checked against the workflow by the use case) or null for none. Its shape is
 * the engine's TimerPolicy: `{off?: string[], timers?: TimerDef[]}`.
 */
const TimerPolicyField = () =>
  applyDecorators(
    ApiPropertyOptional({
      nullable: true,
      description: "Timer policy over the workflow's timers (`{off?: string[], timers?: TimerDef[]}`); null clears it",
    }),
    IsOptional(),
    IsObject(),
    MaxJsonBytes(),
  );

export class CategoryView {
  @ApiProperty({ example: 'LANDSCAPE_RECTIFICATION' }) code: string;
  @ApiProperty({ example: '园林景观整治' }) name: string;
  @ApiProperty({ description: 'The department that owns this kind of work' }) ownerOrgUnitId: string;
  @ApiProperty({ type: [String], example: ['CREW_COMMAND', 'PAYMENT_SETTLEMENT'] }) requiredPowerCodes: string[];
  @ApiProperty({ description: 'On the community work access list (社区工作准入清单)' }) onCommunityAccessList: boolean;
  @ApiProperty({ example: 'handoff' }) workflowKey: string;
  @ApiProperty({
    nullable: true,
    description: "Timer policy over the workflow's timers: `off` (ids switched off) and `timers` (replacing the same id, or added)",
    example: { off: ['progress-reminder'], timers: [{ id: 'due-in-2-days', state: 'in_progress', workingDaysBeforeDeadline: 2, do: { kind: 'remind', to: 'assignee', template: 'task.due_soon' } }] },
  })
  timerPolicy: Record<string, unknown> | null;

  static of(c: CategoryEntity): CategoryView {
    return Object.assign(new CategoryView(), {
      code: c.code,
      name: c.name,
      ownerOrgUnitId: c.ownerOrgUnitId,
      requiredPowerCodes: c.requiredPowerCodes,
      onCommunityAccessList: c.onCommunityAccessList,
      workflowKey: c.workflowKey,
      timerPolicy: c.timerPolicy ?? null,
    });
  }
}

export class PowerView {
  @ApiProperty({ example: 'PAYMENT_SETTLEMENT' }) code: string;
  @ApiProperty({ example: '工程款项结算权' }) name: string;
  @ApiProperty({ example: '《城市绿化条例》' }) legalBasis: string;
  @ApiProperty({ description: 'The department holding the power by law' }) holderOrgUnitId: string;
  @ApiProperty({ description: 'Authorises spending from a task escrow under a grant' }) bearsMoney: boolean;

  static of(p: PowerEntity): PowerView {
    return Object.assign(new PowerView(), {
      code: p.code,
      name: p.name,
      legalBasis: p.legalBasis,
      holderOrgUnitId: p.holderOrgUnitId,
      bearsMoney: p.bearsMoney,
    });
  }
}

export class CategoryList {
  @ApiProperty({ type: [CategoryView] }) items: CategoryView[];
  @ApiProperty({ type: String, nullable: true, description: 'Always null: the catalog fits one page' })
  nextCursor: null;
}

export class PowerList {
  @ApiProperty({ type: [PowerView] }) items: PowerView[];
  @ApiProperty({ type: String, nullable: true, description: 'Always null: the catalog fits one page' })
  nextCursor: null;
}

export class CreateCategoryDto {
  @ApiProperty({ example: 'GREEN_BELT_MAINTENANCE' })
  @IsString()
  @Matches(CATALOG_CODE_PATTERN, { message: `code ${CODE_MESSAGE}` })
  code: string;

  @ApiProperty({ example: '绿化带养护' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiProperty()
  @IsUUID()
  ownerOrgUnitId: string;

  @ApiProperty({ type: [String], maxItems: MAX_REQUIRED_POWERS })
  @IsArray()
  @ArrayMaxSize(MAX_REQUIRED_POWERS)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(CATALOG_CODE_PATTERN, { each: true, message: `each of requiredPowerCodes ${CODE_MESSAGE}` })
  requiredPowerCodes: string[];

  @ApiProperty()
  @IsBoolean()
  onCommunityAccessList: boolean;

  @ApiProperty({ example: 'handoff' })
  @IsString()
  @Matches(WORKFLOW_KEY_PATTERN, { message: WORKFLOW_KEY_MESSAGE })
  workflowKey: string;

  @TimerPolicyField()
  timerPolicy?: Record<string, unknown> | null;
}

/** Every field but the code (which is the identity) may change; `timerPolicy: null` clears the policy. */
export class UpdateCategoryDto {
  @ApiPropertyOptional()
  @Optional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional()
  @Optional()
  @IsUUID()
  ownerOrgUnitId?: string;

  @ApiPropertyOptional({ type: [String], maxItems: MAX_REQUIRED_POWERS })
  @Optional()
  @IsArray()
  @ArrayMaxSize(MAX_REQUIRED_POWERS)
  @ArrayUnique()
  @IsString({ each: true })
  @Matches(CATALOG_CODE_PATTERN, { each: true, message: `each of requiredPowerCodes ${CODE_MESSAGE}` })
  requiredPowerCodes?: string[];

  @ApiPropertyOptional()
  @Optional()
  @IsBoolean()
  onCommunityAccessList?: boolean;

  @ApiPropertyOptional()
  @Optional()
  @IsString()
  @Matches(WORKFLOW_KEY_PATTERN, { message: WORKFLOW_KEY_MESSAGE })
  workflowKey?: string;

  @TimerPolicyField()
  timerPolicy?: Record<string, unknown> | null;
}

export class CreatePowerDto {
  @ApiProperty({ example: 'TREE_FELLING_APPROVAL' })
  @IsString()
  @Matches(CATALOG_CODE_PATTERN, { message: `code ${CODE_MESSAGE}` })
  code: string;

  @ApiProperty({ example: '城市树木砍伐审批' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiProperty({ example: '《城市绿化条例》' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  legalBasis: string;

  @ApiProperty()
  @IsUUID()
  holderOrgUnitId: string;

  @ApiProperty()
  @IsBoolean()
  bearsMoney: boolean;
}

export class UpdatePowerDto {
  @ApiPropertyOptional()
  @Optional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional()
  @Optional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(500)
  legalBasis?: string;

  @ApiPropertyOptional()
  @Optional()
  @IsUUID()
  holderOrgUnitId?: string;

  @ApiPropertyOptional()
  @Optional()
  @IsBoolean()
  bearsMoney?: boolean;
}

const MAX_DUTY_KEYS = 1000;
const MAX_DUTY_CODES = 200;

/**
 * A plain object mapping keys (checked by `key`) to lists of distinct category codes. Dynamic keys are out of reach
 * of the nested-DTO validators, hence a decorator of its own.
 */
function IsDutyMap(key: { test: (k: string) => boolean; describe: string }, options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isDutyMap',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate(value: unknown): boolean {
          if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
          const entries = Object.entries(value as Record<string, unknown>);
          if (entries.length > MAX_DUTY_KEYS) return false;
          return entries.every(
            ([k, codes]) =>
              key.test(k) &&
              Array.isArray(codes) &&
              codes.length <= MAX_DUTY_CODES &&
              new Set(codes).size === codes.length &&
              codes.every((c) => typeof c === 'string' && CATALOG_CODE_PATTERN.test(c)),
          );
        },
        defaultMessage: () =>
          `${propertyName} must map ${key.describe} to lists of distinct category codes (at most ${MAX_DUTY_CODES})`,
      },
    });
}

const KIND_EXAMPLE = { street: ['SANITATION_GRID_CLEANING'], community: ['ELDERLY_CARE_VISITS'] };

/** Duty lists (职责清单): the categories each kind of unit, and each single unit, does as its own duty. */
export class DutyListsView {
  @ApiProperty({
    description: `Category codes per org unit kind (${ORG_UNIT_KINDS.join(', ')})`,
    type: 'object',
    additionalProperties: { type: 'array', items: { type: 'string' } },
    example: KIND_EXAMPLE,
  })
  byKind: Record<string, string[]>;

  @ApiProperty({
    description: 'Category codes per org unit id',
    type: 'object',
    additionalProperties: { type: 'array', items: { type: 'string' } },
  })
  byUnit: Record<string, string[]>;
}

/** Replaces all duty lists at once. */
export class ReplaceDutiesDto {
  @ApiProperty({
    description: `Category codes per org unit kind (${ORG_UNIT_KINDS.join(', ')}); kinds left out have no duties`,
    type: 'object',
    additionalProperties: { type: 'array', items: { type: 'string' } },
    example: KIND_EXAMPLE,
  })
  @IsObject()
  @IsDutyMap({ test: (k) => (ORG_UNIT_KINDS as readonly string[]).includes(k), describe: 'org unit kinds' })
  byKind: Record<string, string[]>;

  @ApiProperty({
    description: 'Category codes per org unit id; units left out have only their kind’s duties',
    type: 'object',
    additionalProperties: { type: 'array', items: { type: 'string' } },
  })
  @IsObject()
  @IsDutyMap({ test: (k) => ID_PATTERN.test(k), describe: 'org unit ids' })
  byUnit: Record<string, string[]>;
}
