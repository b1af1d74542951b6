import type { ConfigFile } from '../config-file';
import { SETUP_FIELDS, type SetupAnswers } from './answers';

/** What the config file already says, as answers: a second run of setup starts from the first. */
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

/** Each answer from its flag, else its environment variable, else the config file, else its default. */
export function initialAnswers(
  flags: Record<string, string | undefined>,
  env: NodeJS.ProcessEnv,
  config: ConfigFile,
): Partial<SetupAnswers> {
  const known = fromConfig(config);
  const answers: Partial<SetupAnswers> = {};
  for (const field of SETUP_FIELDS) {
    const value = flags[field.key] ?? env[field.env] ?? known[field.key] ?? field.fallback;
    if (value !== undefined && value !== '') answers[field.key] = value;
  }
  return answers;
}

/** The answers a run cannot go without, by the flag and variable that give them. */
export function missingAnswers(answers: Partial<SetupAnswers>): string[] {
  const optional: (keyof SetupAnswers)[] = ['apiKey', 'tlsFingerprint', 'sshHostKey'];
  return SETUP_FIELDS.filter((field) => !optional.includes(field.key) && answers[field.key] === undefined).map(
    (field) => `--${field.flag} (or ${field.env})`,
  );
}

/** The config file setup writes: everything the checks confirmed, pins included. */
export function configOf(answers: SetupAnswers): ConfigFile {
  return {
    api: { url: answers.apiUrl, ...(answers.apiKey ? { key: answers.apiKey } : {}) },
    proxmox: {
      url: answers.proxmoxUrl,
      node: answers.node,
      tokenId: answers.tokenId,
      tokenSecret: answers.tokenSecret,
      ...(answers.tlsFingerprint ? { tlsFingerprint: answers.tlsFingerprint } : {}),
    },
    ssh: { host: answers.sshHost, user: answers.sshUser, keyFile: answers.sshKeyFile, hostKey: answers.sshHostKey! },
    redisUrl: answers.redisUrl,
    queuePrefix: answers.queuePrefix,
    databaseUrl: answers.databaseUrl,
  };
}
