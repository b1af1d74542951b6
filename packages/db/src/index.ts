export {
  checkPostgres,
  createDb,
  type Db,
  type DbOptions,
  describePostgresUrl,
  PostgresUnavailableError,
} from './connection';
export { MigrationError, migrateDown, migrateToEmpty, migrateToLatest, migrations } from './migrate';
export * from './repositories/alerts';
export * from './repositories/api-keys';
export { appendEvent, type EventInput, listEvents } from './repositories/events';
export * from './repositories/idempotency';
export * from './repositories/inventory';
export * from './repositories/labs';
export {
  finishStep,
  listSteps,
  listStepsOfVms,
  planSteps,
  type StepOwner,
  type StepStatus,
  startStep,
} from './repositories/steps';
export * from './repositories/templates';
export * from './repositories/vms';
export type * from './schema';
export { openSecret, parseSecretKey, SecretKeyError, sealSecret } from './secrets';
