export { freePort } from './ports';
export { createTestDatabase, type TestDatabase } from './postgres';
export { type RunningProcess, startProcess } from './process';
export { createRedisPrefix, type TestRedis } from './redis';
export { type SimulatorInfo, startSimulator, type TestSimulator } from './simulator';
export { startSshd, type TestSshd } from './sshd';
export { type RunningStack, type StackOptions, startStack } from './stack';
export { addOsTemplates, OS_TEMPLATE_VMIDS, OS_TEMPLATES } from './templates';
export { waitFor } from './wait';
