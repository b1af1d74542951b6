import { resolve } from 'node:path';
import type { ConfigFile } from '../config-file';
import { UsageError } from '../errors';
import { SETUP_FIELDS, type SetupAnswers } from './answers';

/** What an earlier config file said, as answers (setup wrote the cluster there before the env file existed). */
function fromConfig(config: ConfigFile): Partial<SetupAnswers> {
  return {
    apiUrl: config.api?.url,
    apiKey: config.api?.key,
    proxmoxUrl: config.proxmox?.url,
    node: config.proxmox?.node,
    tokenId: config.proxmox?.tokenId,
    tokenSecret: config.proxmox?.tokenSecret,
    tlsFingerprint: config.proxmox?.tlsFingerprint,
    sshHost: config.ssh?.host,
    sshUser: config.ssh?.user,
    sshKeyFile: config.ssh?.keyFile,
    sshHostKey: config.ssh?.hostKey,
    redisUrl: config.redisUrl,
    queuePrefix: config.queuePrefix,
    databaseUrl: config.databaseUrl,
  };
}

/**
 * Each answer from its flag, else its environment variable, else the env file, else the config file,
 * else its default: a second run of setup starts from what the first one wrote.
 */
export function initialAnswers(
  flags: Record<string, string | undefined>,
  env: NodeJS.ProcessEnv,
  config: ConfigFile,
  envFile: Record<string, string> = {},
): Partial<SetupAnswers> {
  const known = fromConfig(config);
  const answers: Partial<SetupAnswers> = {};
  for (const field of SETUP_FIELDS) {
    const value = flags[field.key] ?? env[field.env] ?? envFile[field.env] ?? known[field.key] ?? field.fallback;
    if (value !== undefined && value !== '') answers[field.key] = value;
  }
  return answers;
}

/** `root@host[:port]` of --bootstrap-ssh as the SSH answers; the user is whatever the login names. */
export function bootstrapLogin(login: string): Pick<SetupAnswers, 'sshUser' | 'sshHost'> {
  const match = /^([^@\s]+)@([^\s@]+)$/.exec(login.trim());
  if (!match)
    throw new UsageError(`--bootstrap-ssh: ${JSON.stringify(login)} is not user@host[:port] (e.g. root@pve.example)`);
  return { sshUser: match[1]!, sshHost: match[2]! };
}

/** The answers a run cannot go without, by the flag and variable that give them; bootstrapping makes the token secret. */
export function missingAnswers(answers: Partial<SetupAnswers>, options: { bootstrap?: boolean } = {}): string[] {
  const optional: (keyof SetupAnswers)[] = ['apiKey', 'tlsFingerprint', 'sshHostKey'];
  if (options.bootstrap) optional.push('tokenSecret');
  return SETUP_FIELDS.filter((field) => !optional.includes(field.key) && answers[field.key] === undefined).map(
    (field) => `--${field.flag} (or ${field.env})`,
  );
}

/** The variables the env file holds, by name, in the order written: what every process reads. */
export function envVarsOf(answers: SetupAnswers): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const field of SETUP_FIELDS) {
    // The API URL and key are the glassdome command's, kept in its config file.
    if (field.key === 'apiUrl' || field.key === 'apiKey') continue;
    const value = field.key === 'sshKeyFile' ? resolve(answers.sshKeyFile) : answers[field.key];
    if (value !== undefined && value !== '') vars[field.env] = value;
  }
  return vars;
}

/** The config file setup writes: the API's URL and key, for the glassdome command itself. */
export function configOf(answers: SetupAnswers): ConfigFile {
  return { api: { url: answers.apiUrl, ...(answers.apiKey ? { key: answers.apiKey } : {}) } };
}
