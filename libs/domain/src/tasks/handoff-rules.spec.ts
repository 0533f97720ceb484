import { describe, expect, it } from '@jest/globals';
import { attenuationViolations, channelAllowed } from './handoff-rules.js';

const unit = (id: string, kind: string, parentId: string | null) => ({ id, kind, parentId }) as never;

describe('handoff channels', () => {
  const district = 'd';
  const dept = unit('dept', 'department', district);
  const street = unit('st', 'street', district);
  const otherDistrictStreet = unit('st2', 'street', 'other-district');
  const community = unit('sq', 'community', 'st');
  const section = unit('ks', 'section', 'st');
  const grid = unit('wg', 'grid', 'sq');
  const foreignGrid = unit('wg9', 'grid', 'sq9');

  it.each([
    ['department → street of its district', dept, street, true],
    ['department → street of another district', dept, otherDistrictStreet, false],
    ['department → community (skips the street)', dept, community, false],
    ['street → its community', street, community, true],
    ['street → its section', street, section, true],
    ['street → a grid (skips the community)', street, grid, false],
    ['community → its grid', community, grid, true],
    ['community → another community’s grid', community, foreignGrid, false],
    ['community → street (upwards)', community, street, false],
    ['grid → anything', grid, grid, false],
  ])('%s', (_n, from, to, allowed) => {
    expect(channelAllowed(from, to)).toBe(allowed);
  });
});

describe('grant attenuation', () => {
  const parent = { scopePath: '/d/st/', capFen: 1000, validUntil: new Date('2026-12-31T00:00:00Z') };
  it('accepts a proper narrowing', () => {
    expect(attenuationViolations(parent, { scopePath: '/d/st/sq/', capFen: 500, validUntil: new Date('2026-12-01T00:00:00Z') })).toEqual([]);
  });
  it('refuses a wider scope, a higher or missing cap and a later or open validity', () => {
    const v = attenuationViolations(parent, { scopePath: '/d/other/', capFen: 1001, validUntil: null });
    expect(v).toHaveLength(3);
    expect(attenuationViolations(parent, { scopePath: '/d/st/', capFen: null, validUntil: parent.validUntil })).toHaveLength(1);
  });
  it('an uncapped, open-ended parent bounds only the scope', () => {
    expect(attenuationViolations({ scopePath: '/d/', capFen: null, validUntil: null }, { scopePath: '/d/x/', capFen: null, validUntil: null })).toEqual([]);
  });
});
