import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { csvTransformer, jsonTransformer, type JsonObject } from './transformers.js';

/** A power a department holds by law (权力清单). Money-bearing powers allow spending escrow under a grant. */
@Entity({ name: 'powers' })
export class PowerEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  code: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ name: 'legal_basis', type: 'varchar', length: 500 })
  legalBasis: string;

  @Column({ name: 'holder_org_unit_id', type: 'char', length: 36 })
  holderOrgUnitId: string;

  @Column({ name: 'bears_money', type: 'boolean', default: false })
  bearsMoney: boolean;
}

/** A kind of work (事项类别): who owns it, what powers it needs, whether communities must accept it. */
@Entity({ name: 'categories' })
export class CategoryEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  code: string;

  @Column({ type: 'varchar', length: 200 })
  name: string;

  @Column({ name: 'owner_org_unit_id', type: 'char', length: 36 })
  ownerOrgUnitId: string;

  @Column({ name: 'required_power_codes', type: 'varchar', length: 1000, transformer: csvTransformer })
  requiredPowerCodes: string[];

  @Column({ name: 'on_community_access_list', type: 'boolean', default: false })
  onCommunityAccessList: boolean;

  @Column({ name: 'workflow_key', type: 'varchar', length: 64 })
  workflowKey: string;

  /** The category's timer policy over its workflow's timers (`{timers?, off?}`, see the engine's TimerPolicy). */
  @Column({ name: 'timer_policy', type: 'text', nullable: true, default: null, transformer: jsonTransformer })
  timerPolicy: JsonObject | null;
}

/**
 * Duty list (职责清单): a category that a kind of org unit (scope `kind`) or one unit (scope `unit`) does as its
 * own statutory duty. Handing such work to it needs no delegated power.
 */
@Entity({ name: 'duties' })
@Index('ix_duties_category', ['categoryCode'])
export class DutyEntity {
  /** `kind` or `unit` */
  @PrimaryColumn({ type: 'varchar', length: 8 })
  scope: string;

  /** an org unit kind, or an org unit id */
  @PrimaryColumn({ name: 'scope_value', type: 'varchar', length: 64 })
  scopeValue: string;

  @PrimaryColumn({ name: 'category_code', type: 'varchar', length: 64 })
  categoryCode: string;
}
