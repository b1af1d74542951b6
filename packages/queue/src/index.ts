export { type JobContext, JobLockLostError, JobTimeoutError, WorkerShutdownError } from './attempt';
export * from './catalog';
export {
  checkRedis,
  createRedis,
  describeRedisUrl,
  type RedisConnection,
  type RedisRole,
  RedisUnavailableError,
  redisErrorReporter,
  waitForRedis,
} from './connection';
export { type EnqueueIntent, jobIntent, parseIntent, sendIntents } from './intent';
export { addLabTasks, type FailurePolicy, type LabFlowTask, labJobId, priorityOf, startLabFlow } from './lab-flow';
export { type JobEnd, LIVE_JOB_STATES, liveJobs, waitForJobEnd } from './live-jobs';
export { isBackingServiceOutage } from './outage';
export {
  ACL_PATH,
  GRANTABLE_PRIVILEGES,
  type GrantablePrivilege,
  type GrantRequest,
  grantProblems,
  PVE_PRINCIPAL,
  REPAIR_PRIVILEGES,
  ROOT_PRIVILEGES,
  repairProblems,
  TEMPLATE_REPAIR_PRIVILEGES,
} from './permission-policy';
export { jobOptions, Producer } from './producer';
export {
  closeOnSignals,
  type Handlers,
  isFinalAttempt,
  type JobHandler,
  PermanentError,
  startWorkers,
  type WorkerGroup,
  type WorkerGroupOptions,
} from './worker';
