import { DomainError, inScope, type Principal } from '@gridflow/common';
import { CatalogErrorCode, type OrgDirectory } from '@gridflow/domain';
import type { OrgUnitEntity } from '@gridflow/persistence';

/**
 * The org units named by a catalog write must exist and lie in the caller's subtree; anything else is reported as
 * unknown (`UNKNOWN_ORG_UNITS`, 422), never as forbidden.
 */
export async function requireOrgUnitsInScope(
  org: OrgDirectory,
  principal: Principal,
  ids: readonly string[],
): Promise<Map<string, OrgUnitEntity>> {
  const unique = [...new Set(ids)];
  const found = new Map(
    (await org.findByIds(unique)).filter((u) => inScope(principal, u.path)).map((u) => [u.id, u] as const),
  );
  const missing = unique.filter((id) => !found.has(id));
  if (missing.length) {
    throw new DomainError(CatalogErrorCode.UNKNOWN_ORG_UNITS, `Unknown org units: ${missing.join(', ')}`, {
      orgUnitIds: missing,
    });
  }
  return found;
}

export const isDuplicateKey = (e: unknown): boolean => (e as { code?: string }).code === 'ER_DUP_ENTRY';
