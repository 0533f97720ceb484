import type { OrgUnitKind } from '@gridflow/persistence';

/**
 * Which kinds may sit under which. Departments and streets are siblings under the district; streets hold sections
 * and communities; communities hold grids. Levels are data: a county with townships and villages uses the same kinds.
 */
export const ALLOWED_PARENT_KINDS: Record<OrgUnitKind, OrgUnitKind[]> = {
  district: [],
  department: ['district'],
  street: ['district'],
  section: ['street', 'department'],
  community: ['street'],
  grid: ['community'],
};
