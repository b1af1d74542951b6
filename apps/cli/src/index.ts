/** @glassdome/cli: the `glassdome` command, callable in-process (tests, other tooling) through runCli. */
export { ApiClient, type RequestOptions } from './api-client';
export { type ConfigFile, defaultConfigPath, readConfigFile, writeConfigFile } from './config-file';
export type { CliIo } from './context';
export { ApiRequestError, ApiUnreachableError, CliError, ExitCode, UsageError, WorkFailedError } from './errors';
export { buildProgram, runCli } from './program';
