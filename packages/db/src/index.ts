export {
  checkPostgres,
  createDb,
  type Db,
  type DbOptions,
  describePostgresUrl,
  PostgresUnavailableError,
} from './connection';
export { MigrationError, migrateDown, migrateToEmpty, migrateToLatest, migrations } from './migrate';
export { appendEvent, type EventInput, listEvents } from './repositories/events';
export {
  finishStep,
  listSteps,
  listStepsOfVms,
  planSteps,
  type StepOwner,
  type StepStatus,
  startStep,
} from './repositories/steps';
export type * from './schema';
export { openSecret, parseSecretKey, SecretKeyError, sealSecret } from './secrets';
