/** Roles are per org unit: a user acts for exactly one unit. */
export const ROLES = ['admin', 'leader', 'staff', 'grid_worker', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/** Everything a route can require. Names are `<resource>:<verb>`. */
export const Permission = {
  OrgRead: 'org:read',
  OrgWrite: 'org:write',
  UserRead: 'user:read',
  UserWrite: 'user:write',
  BudgetRead: 'budget:read',
  BudgetWrite: 'budget:write',
  CatalogRead: 'catalog:read',
  CatalogWrite: 'catalog:write',
  WorkflowRead: 'workflow:read',
  WorkflowWrite: 'workflow:write',
  TaskRead: 'task:read',
  TaskCreate: 'task:create',
  TaskAct: 'task:act',
  ExpenseWrite: 'expense:write',
  NotificationRead: 'notification:read',
  WebhookAdmin: 'webhook:admin',
} as const;
export type Permission = (typeof Permission)[keyof typeof Permission];

const READS: Permission[] = [
  Permission.OrgRead,
  Permission.BudgetRead,
  Permission.CatalogRead,
  Permission.TaskRead,
  Permission.NotificationRead,
];

/** The role → permissions map. Scope (which org units) is checked separately, in each use case. */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: Object.values(Permission),
  leader: [...READS, Permission.TaskCreate, Permission.TaskAct, Permission.ExpenseWrite],
  staff: [...READS, Permission.TaskAct, Permission.ExpenseWrite],
  grid_worker: [...READS, Permission.TaskAct],
  auditor: [...READS, Permission.UserRead, Permission.WorkflowRead],
};

/**
 * Permissions over settings that are one for the whole district — the catalogs and duty lists, the working-day
 * calendar, workflow definitions and their migrations, webhooks (which see every unit's events). An administrator
 * placed below the district (a street's own administrator) manages its subtree's units, users and budgets, but not
 * these: they would reach units outside its scope.
 */
export const DISTRICT_WIDE_PERMISSIONS: ReadonlySet<Permission> = new Set([
  Permission.CatalogWrite,
  Permission.WorkflowWrite,
  Permission.WebhookAdmin,
]);

/** True when the caller's unit is a root of the tree (the district itself). */
export function atDistrictLevel(p: Pick<Principal, 'orgUnitPath'>): boolean {
  return p.orgUnitPath.split('/').filter(Boolean).length === 1;
}

export function permissionsOf(roles: readonly string[]): Set<Permission> {
  const out = new Set<Permission>();
  for (const r of roles) for (const p of ROLE_PERMISSIONS[r as Role] ?? []) out.add(p);
  return out;
}

/** The authenticated caller, passed explicitly as the first argument of every use case. */
export interface Principal {
  userId: string;
  username: string;
  orgUnitId: string;
  /** Materialised path of the caller's unit, e.g. `/<district>/<street>/`; its subtree is its scope. */
  orgUnitPath: string;
  roles: Role[];
}

export function hasRole(p: Principal, role: Role): boolean {
  return p.roles.includes(role);
}

/** True when `path` is the caller's own unit or lies below it. */
export function inScope(p: Principal, path: string): boolean {
  return path.startsWith(p.orgUnitPath);
}
