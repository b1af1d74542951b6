export * from './catalog';
export {
  checkRedis,
  createRedis,
  describeRedisUrl,
  type RedisRole,
  RedisUnavailableError,
  redisErrorReporter,
  waitForRedis,
} from './connection';
export { type EnqueueIntent, jobIntent, parseIntent, sendIntents } from './intent';
export { LIVE_JOB_STATES, liveJobs } from './live-jobs';
export { addLabTasks, type FailurePolicy, type LabFlowTask, labJobId, startLabFlow } from './lab-flow';
export { isBackingServiceOutage } from './outage';
export { jobOptions, Producer } from './producer';
export {
  closeOnSignals,
  type Handlers,
  isFinalAttempt,
  type JobContext,
  type JobHandler,
  JobLockLostError,
  JobTimeoutError,
  PermanentError,
  startWorkers,
  type WorkerGroup,
  type WorkerGroupOptions,
  WorkerShutdownError,
} from './worker';
