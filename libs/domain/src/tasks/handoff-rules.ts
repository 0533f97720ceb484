import type { OrgUnitEntity } from '@gridflow/persistence';

/**
 * Handoff channels: a department hands to the streets of its district, a street to its own sections and
 * communities, a community to its own grids. Anything else (skipping a level, sideways, upwards) is refused.
 */
export function channelAllowed(sender: Pick<OrgUnitEntity, 'id' | 'kind' | 'parentId'>, receiver: Pick<OrgUnitEntity, 'kind' | 'parentId'>): boolean {
  switch (sender.kind) {
    case 'department':
      return receiver.kind === 'street' && receiver.parentId === sender.parentId;
    case 'street':
      return (receiver.kind === 'section' || receiver.kind === 'community') && receiver.parentId === sender.id;
    case 'community':
      return receiver.kind === 'grid' && receiver.parentId === sender.id;
    default:
      return false;
  }
}

export interface GrantBounds {
  scopePath: string;
  capFen: number | null;
  validUntil: Date | null;
}

/**
 * Attenuation: a sub-grant may only narrow its parent — scope inside, cap no higher, validity no later.
 * Returns the reasons it does not, empty when it is a proper narrowing.
 */
export function attenuationViolations(parent: GrantBounds, child: GrantBounds): string[] {
  const out: string[] = [];
  if (!child.scopePath.startsWith(parent.scopePath)) out.push('scope is not inside the parent grant’s scope');
  if (parent.capFen !== null && (child.capFen === null || child.capFen > parent.capFen)) {
    out.push(`cap exceeds the parent grant’s cap of ${parent.capFen} fen`);
  }
  if (parent.validUntil !== null && (child.validUntil === null || child.validUntil.getTime() > parent.validUntil.getTime())) {
    out.push(`validity exceeds the parent grant’s (${parent.validUntil.toISOString()})`);
  }
  return out;
}
