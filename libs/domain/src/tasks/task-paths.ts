import type { Principal } from '@gridflow/common';
import type { TaskEntity } from '@gridflow/persistence';

/** Ids along a materialised path, root first: `/a/b/c/` → [a, b, c]. */
export function pathIds(path: string): string[] {
  return path.split('/').filter(Boolean);
}

/**
 * A caller sees tasks its unit owns or is assigned, and tasks anywhere below its unit. Anything else is reported
 * as not found.
 */
export function taskVisibleTo(principal: Principal, task: Pick<TaskEntity, 'ownerPath' | 'assigneePath'>): boolean {
  return task.assigneePath.startsWith(principal.orgUnitPath) || task.ownerPath.startsWith(principal.orgUnitPath);
}
