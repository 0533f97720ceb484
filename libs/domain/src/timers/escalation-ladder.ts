/**
 * The escalation ladder of an overdue or neglected task. Level 0 is a plain reminder to the assignee (a `remind`
 * timer); each `escalate` timer climbs to its level:
 *
 * | level | name        | who hears of it                           | record                                  |
 * | ----- | ----------- | ----------------------------------------- | --------------------------------------- |
 * | 1     | 催办 urge    | the leaders of the assignee unit (a grid's: its community's) | task.escalation_level = 1 |
 * | 2     | 督办 supervise | the leaders of the owner unit's superior | a supervision entry for that superior   |
 * | 3     | 挂牌督办 listed | the leaders of the district (root unit)  | a listed supervision entry for the district |
 *
 * A definition's explicit `do.to` on an escalate timer is notified as well (with its template). After a rung fires,
 * the ladder climbs on by itself one working day later while the task stays in the timer's state, unless the
 * workflow has its own timer for a higher rung pending.
 */
import { pathIds } from '../tasks/task-paths.js';

export type LadderAudience = 'assigneeLeaders' | 'ownerSuperiorLeaders' | 'districtLeaders';

export interface LadderRung {
  level: 1 | 2 | 3;
  name: 'urge' | 'supervision' | 'listed-supervision';
  label: string;
  template: string;
  audience: LadderAudience;
  /** Rungs that open a supervision entry. */
  opensEntry: boolean;
}

export const ESCALATION_LADDER: readonly LadderRung[] = [
  {
    level: 1,
    name: 'urge',
    label: '催办',
    template: 'task.escalation_urge',
    audience: 'assigneeLeaders',
    opensEntry: false,
  },
  {
    level: 2,
    name: 'supervision',
    label: '督办',
    template: 'task.escalation_supervision',
    audience: 'ownerSuperiorLeaders',
    opensEntry: true,
  },
  {
    level: 3,
    name: 'listed-supervision',
    label: '挂牌督办',
    template: 'task.escalation_listed',
    audience: 'districtLeaders',
    opensEntry: true,
  },
];

export const MAX_ESCALATION_LEVEL = 3;

/** The rung for a level, clamped to 1..3. */
export function ladderRung(level: unknown): LadderRung {
  const n = Math.trunc(Number(level));
  const clamped = Number.isFinite(n) ? Math.min(MAX_ESCALATION_LEVEL, Math.max(1, n)) : 1;
  return ESCALATION_LADDER[clamped - 1];
}

/**
 * The units an audience may reach, closest first: the unit itself, then its ancestors. A rung is heard by the
 * leaders of the first of them that has any (a grid has no leader of its own: its community's leaders hear of it).
 */
export function audienceUnits(
  audience: LadderAudience,
  task: { ownerPath: string; assigneePath: string; assigneeOrgUnitId: string },
): string[] {
  const first = audienceUnit(audience, task);
  const chain = audience === 'assigneeLeaders' ? pathIds(task.assigneePath) : pathIds(task.ownerPath);
  const at = chain.indexOf(first);
  return at < 0 ? [first] : chain.slice(0, at + 1).reverse();
}

/** The org unit an audience points at, from the task's materialised paths. */
export function audienceUnit(
  audience: LadderAudience,
  task: { ownerPath: string; assigneePath: string; assigneeOrgUnitId: string },
): string {
  const owner = pathIds(task.ownerPath);
  switch (audience) {
    case 'assigneeLeaders':
      return task.assigneeOrgUnitId;
    case 'ownerSuperiorLeaders':
      return owner.length > 1 ? owner[owner.length - 2] : owner[0];
    case 'districtLeaders':
      return owner[0];
  }
}
