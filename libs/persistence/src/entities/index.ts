import { OrgUnitEntity } from './org-unit.entity.js';
import { RefreshTokenEntity } from './refresh-token.entity.js';
import { UserEntity } from './user.entity.js';
import { WorkerHeartbeatEntity } from './worker-heartbeat.entity.js';

export * from './org-unit.entity.js';
export * from './user.entity.js';
export * from './refresh-token.entity.js';
export * from './worker-heartbeat.entity.js';
export * from './transformers.js';

export const ENTITIES = [OrgUnitEntity, UserEntity, RefreshTokenEntity, WorkerHeartbeatEntity];
