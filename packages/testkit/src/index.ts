export type { SimulatorInfo } from '@glassdome/config';
export {
  addNodeTemplates,
  addOsTemplates,
  ensureBuilt,
  freePort,
  type LocalSimulatorInfo,
  OS_TEMPLATE_VMIDS,
  OS_TEMPLATES,
  type RunningProcess,
  simulatorRoot,
  startProcess,
  waitFor,
} from '@glassdome/stack';
export { type ApiAnswer, apiCaller } from './api-client';
export { createTestDatabase, type TestDatabase } from './postgres';
export { createRedisPrefix, type TestRedis } from './redis';
export {
  type RedisCluster,
  type RedisNodeProcess,
  type RedisSentinelSet,
  startRedisCluster,
  startRedisSentinel,
} from './redis-topology';
export { startSimulator, type TestSimulator } from './simulator';
export { newSshKeyPair, type SshKeyPair } from './ssh-key';
export { startSshd, type TestSshd } from './sshd';
export {
  type IsolatedStack,
  type RunningStack,
  type StackOptions,
  startIsolatedStack,
  startStack,
} from './stack';
export { reportingStatements } from './statements';
