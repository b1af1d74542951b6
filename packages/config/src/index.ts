export { ConfigError, loadEnv, parseEnv } from './env';
export * as vars from './vars';
