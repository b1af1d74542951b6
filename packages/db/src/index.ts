export {
  checkPostgres,
  createDb,
  type Db,
  type DbOptions,
  describePostgresUrl,
  PostgresUnavailableError,
} from './connection';
export { MigrationError, migrateDown, migrateToEmpty, migrateToLatest, migrations } from './migrate';
export type * from './schema';
export { openSecret, parseSecretKey, SecretKeyError, sealSecret } from './secrets';
