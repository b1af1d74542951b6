/**
 * The CLI's config file (YAML, mode 0600): where the API is and the key to it. It holds secrets, so
 * it is only ever written owner-only. The other sections are what `glassdome setup` wrote before the
 * services' settings moved to the env file: still read, as earlier answers for setup, never written.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { UsageError } from './errors';
import { formatProblems } from './format-error';

export const configFileSchema = z.strictObject({
  api: z.strictObject({ url: z.url().optional(), key: z.string().min(1).optional() }).optional(),
  proxmox: z
    .strictObject({
      url: z.url(),
      node: z.string().min(1),
      tokenId: z.string().min(1),
      tokenSecret: z.string().min(1),
      tlsFingerprint: z.string().optional(),
    })
    .optional(),
  ssh: z
    .strictObject({
      host: z.string().min(1),
      user: z.string().min(1),
      keyFile: z.string().min(1),
      hostKey: z.string().min(1),
    })
    .optional(),
  redisUrl: z.string().optional(),
  queuePrefix: z.string().optional(),
  databaseUrl: z.string().optional(),
});

export type ConfigFile = z.infer<typeof configFileSchema>;

/** `GLASSDOME_CONFIG`, else `$XDG_CONFIG_HOME/glassdome/config.yaml`, else `~/.config/glassdome/config.yaml`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  if (env.GLASSDOME_CONFIG) return env.GLASSDOME_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config'), 'glassdome', 'config.yaml');
}

/** The config file's content; an absent file is an empty config, a broken one a usage error naming the field. */
export function readConfigFile(path: string): ConfigFile {
  if (!existsSync(path)) return {};
  let data: unknown;
  try {
    data = parse(readFileSync(path, 'utf8')) ?? {};
  } catch (error) {
    throw new UsageError(`${path}: is not valid YAML (${error instanceof Error ? error.message : 'unreadable'})`);
  }
  const parsed = configFileSchema.safeParse(data);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    throw new UsageError(`${path}: ${formatProblems(problems)}`);
  }
  return parsed.data;
}

/** Writes the config owner-only (0600), also tightening a file that already existed with looser bits. */
export function writeConfigFile(path: string, config: ConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, stringify(config), { mode: 0o600 });
  chmodSync(path, 0o600);
}
