export { freePort } from './ports';
export { createTestDatabase, type TestDatabase } from './postgres';
export { type RunningProcess, startProcess } from './process';
export { createRedisPrefix, type TestRedis } from './redis';
export { startSshd, type TestSshd } from './sshd';
export { waitFor } from './wait';
