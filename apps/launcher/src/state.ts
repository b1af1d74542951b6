/**
 * The launcher's state directory (`.glassdome/` by default, git-ignored): secrets it had to make
 * itself, made once and kept owner-only so that a restart reuses them instead of minting new ones.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEnvFile, writeEnvFile } from '@glassdome/config';

const HEADER = [
  'Secrets `pnpm start` generated because neither its environment nor the env file gave them.',
  'Used only while that stays so; keep this file private (mode 0600).',
];

/** `gd_admin_` and 32 random bytes: the bootstrap admin API key. */
export function generateAdminKey(): string {
  return `gd_admin_${randomBytes(32).toString('base64url')}`;
}

/**
 * The generated secrets among `wanted` (GLASSDOME_ADMIN_KEY, GLASSDOME_SECRET_KEY): read from
 * `generated.env`, made and saved when missing. Answers all that the file holds.
 */
export function generatedSecrets(
  stateDir: string,
  wanted: { adminKey: boolean; secretKey: boolean },
): { path: string; vars: Record<string, string> } {
  const path = join(stateDir, 'generated.env');
  const vars = readEnvFile(path);
  let changed = false;
  if (wanted.adminKey && !vars.GLASSDOME_ADMIN_KEY) {
    vars.GLASSDOME_ADMIN_KEY = generateAdminKey();
    changed = true;
  }
  if (wanted.secretKey && !vars.GLASSDOME_SECRET_KEY) {
    vars.GLASSDOME_SECRET_KEY = randomBytes(32).toString('base64');
    changed = true;
  }
  if (changed) writeEnvFile(path, vars, HEADER);
  return { path, vars };
}

export interface SimulatorSecrets {
  rootPassword: string;
  tokenSecret: string;
}

/** The simulated cluster's root password and token secret: its saved state holds them, so they are kept beside it. */
export function simulatorSecrets(stateDir: string): SimulatorSecrets {
  const path = join(stateDir, 'pve-sim-secrets.json');
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as SimulatorSecrets;
  const secrets = { rootPassword: randomBytes(18).toString('base64url'), tokenSecret: randomUUID() };
  writeFileSync(path, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}
