import { describe, expect, it } from '@jest/globals';
import { audienceUnit, ladderRung } from './escalation-ladder.js';

describe('escalation ladder', () => {
  const task = { ownerPath: '/d/s/c/', assigneePath: '/d/s/c/g/', assigneeOrgUnitId: 'g' };

  it('maps levels to rungs and clamps out-of-range levels', () => {
    expect([1, 2, 3].map((l) => ladderRung(l).label)).toEqual(['催办', '督办', '挂牌督办']);
    expect(ladderRung(0).level).toBe(1);
    expect(ladderRung(9).level).toBe(3);
    expect(ladderRung('x').level).toBe(1);
  });

  it('points each rung at the right unit: assignee, owner’s superior, district', () => {
    expect(audienceUnit(ladderRung(1).audience, task)).toBe('g');
    expect(audienceUnit(ladderRung(2).audience, task)).toBe('s');
    expect(audienceUnit(ladderRung(3).audience, task)).toBe('d');
    // a district-owned task has no superior: the district supervises
    expect(audienceUnit(ladderRung(2).audience, { ...task, ownerPath: '/d/' })).toBe('d');
  });
});
