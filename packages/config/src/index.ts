export { ConfigError, loadEnv, parseEnv } from './env';
export { EnvFileError, formatEnvFile, readEnvFile, writeEnvFile } from './env-file';
export {
  describeRedisTarget,
  parseRedisUrl,
  type RedisNode,
  type RedisTarget,
  RedisUrlError,
} from './redis-url';
export {
  type SimulatorApiInfo,
  type SimulatorInfo,
  type SimulatorSshInfo,
  simulatorApiInfoSchema,
  simulatorInfoSchema,
  simulatorSshInfoSchema,
} from './simulator-info';
export * as vars from './vars';
