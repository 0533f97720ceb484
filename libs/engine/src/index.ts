/**
 * @gridflow/engine — the pure workflow engine core: definition language, static validation, evaluation of
 * actions and approval operations, timers and versioning helpers. No framework, no I/O.
 */
export * from './definition.js';
export { parseDuration, isDuration, addDuration } from './duration.js';
export type { Duration } from './duration.js';
export { WORKFLOW_DEFINITION_SCHEMA, WORKFLOW_DEFINITION_SCHEMA_ID } from './schema.js';
export { GUARDS, EFFECTS, getGuard, getEffect, listBuildingBlocks } from './registry.js';
export type { GuardBlock, EffectBlock, GuardContext, BuildingBlock, BuildingBlockInfo } from './registry.js';
export { validateDefinition } from './validate.js';
export type { DefinitionError, ValidationErrorCode, ValidationResult } from './validate.js';
export { parseDefinition, loadDefinition, DefinitionParseError } from './parse.js';
export type { LoadResult } from './parse.js';
export { compile, isFinal, entryStates, DefinitionInvalidError } from './compile.js';
export type { CompiledDefinition, CompiledAction, CompiledState, CompiledTimer } from './compile.js';
export {
  evaluate,
  startInstance,
  evaluateTimer,
  availableActions,
  isPermitted,
  relationHolds,
  refusalReason,
  SYSTEM_ACTOR,
} from './evaluate.js';
export type { DefinitionLike, Instant, StartOptions } from './evaluate.js';
export {
  APPROVAL_OPERATION_SCHEMAS,
  APPROVAL_OPERATION_LABELS,
  isApprovalOperation,
  requiredApprovals,
  decideOutcome,
  tally,
  actionableUserIds,
  resolveApprovers,
  toDirectory,
} from './approval.js';
export type { ApprovalTally } from './approval.js';
export { timerFireTime } from './timers.js';
export { applyTimerPolicy } from './timer-policy.js';
export type { TimerPolicy, TimerPolicyResult } from './timer-policy.js';
export { canonicalJson, definitionHash, diffDefinitions, canMigrate } from './versioning.js';
export type { DefinitionDiff, CollectionDiff, MigrationCheck } from './versioning.js';
