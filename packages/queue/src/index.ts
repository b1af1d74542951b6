export * from './catalog';
export {
  checkRedis,
  createRedis,
  describeRedisUrl,
  type RedisRole,
  RedisUnavailableError,
  waitForRedis,
} from './connection';
export { type EnqueueIntent, jobIntent, parseIntent, sendIntents } from './intent';
export { addLabTasks, type FailurePolicy, type LabFlowTask, labJobId, startLabFlow } from './lab-flow';
export { jobOptions, Producer } from './producer';
export {
  closeOnSignals,
  type Handlers,
  isFinalAttempt,
  type JobContext,
  type JobHandler,
  JobTimeoutError,
  PermanentError,
  startWorkers,
  type WorkerGroup,
  type WorkerGroupOptions,
} from './worker';
