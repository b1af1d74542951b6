export { withAdvisoryLock } from './advisory-lock';
export { CHANGE_CHANNEL, ChangeFeed, type ChangeFeedOptions, type FeedEvent, type FeedSubscriber } from './change-feed';
export { coalesced } from './coalesce';
export {
  checkPostgres,
  createDb,
  type Db,
  type DbOptions,
  describePostgresUrl,
  inTransaction,
  openConnections,
  PostgresUnavailableError,
  pingDb,
} from './connection';
export { MigrationError, migrateDown, migrateToEmpty, migrateToLatest, migrations } from './migrate';
export * from './paging';
export * from './repositories/alerts';
export * from './repositories/api-keys';
export { deleteSealedCredentialsByPrefix } from './repositories/credentials';
export {
  appendEvent,
  appendEvents,
  type EventInput,
  LAB_EVENTS,
  lastEventId,
  listEvents,
  listEventsAfter,
  listEventsByData,
  listLabEventPage,
  pruneEvents,
} from './repositories/events';
export * from './repositories/idempotency';
export * from './repositories/inventory';
export * from './repositories/lab-extras';
export * from './repositories/lab-operations';
export * from './repositories/lab-specs';
export * from './repositories/labs';
export * from './repositories/network-leases';
export * from './repositories/networks';
export * from './repositories/outbox';
export * from './repositories/placement';
export * from './repositories/platforms';
export * from './repositories/pools';
export * from './repositories/projects';
export * from './repositories/redrive';
export * from './repositories/ssh-host-keys';
export {
  finishLabTaskStep,
  finishStep,
  getStepDetail,
  type LabTaskStartRow,
  type LabVmStart,
  type LabVmWithSteps,
  listRunningStepsOfPlatform,
  listShownStepsOfLab,
  listSteps,
  listStepsOfVms,
  planLabVmSteps,
  planSteps,
  planVmSteps,
  type RecordedStep,
  recordLabStepDone,
  recordVmSteps,
  resetAllSteps,
  resetUnfinishedVmSteps,
  type StepEvent,
  type StepOwner,
  type StepRow,
  setStepDetail,
  setStepsStatus,
  startLabTasksIfRunning,
  startStep,
  stepNamesIn,
  type VmStatusChange,
  type VmStepOutcome,
  type VmStepRecord,
  type VmStepsRecorded,
  type VmStepWrites,
  vmStepEvent,
} from './repositories/steps';
export * from './repositories/templates';
export * from './repositories/vm-host-keys';
export * from './repositories/vm-snapshots';
export * from './repositories/vmid-leases';
export * from './repositories/vms';
export type * from './schema';
export { ALL_PROJECTS, projectInScope, type Scope, type ScopedTable, scopeCondition } from './scope';
export { openSecret, parseSecretKey, SecretKeyError, sealSecret } from './secrets';
export { NotJsonError, type SpecAsWritten, type StoredStructure, toStoredJson } from './stored-json';
export { CredentialStore } from './stores/credential-store';
export { PostgresHostKeyStore } from './stores/host-key-store';
export { PostgresVlanLeaseStore } from './stores/vlan-lease-store';
export { PostgresVmidLeaseStore } from './stores/vmid-lease-store';
