/**
 * Where `pnpm start` takes its settings from, highest first:
 * 1. the launcher's own environment (`FOO=1 pnpm start`);
 * 2. the env file (GLASSDOME_ENV_FILE, else `<state dir>/glassdome.env`), what `glassdome setup` writes;
 * 3. secrets the launcher generated once because neither gave them (`<state dir>/generated.env`);
 * 4. the processes' own defaults.
 * In simulator mode the Proxmox variables describe the simulator and win over all of these.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseEnv, readEnvFile } from '@glassdome/config';
import { type LauncherEnv, launcherEnv } from './env';

export interface EnvSources {
  /** The launcher's own environment. */
  real: NodeJS.ProcessEnv;
  /** The env file's variables ({} when there is none). */
  file: Record<string, string>;
  /** Secrets generated once and kept in the state directory. */
  generated: Record<string, string>;
}

/** The env file to read: GLASSDOME_ENV_FILE (which must then exist), else `<state dir>/glassdome.env` if present. */
export function envFileOf(real: NodeJS.ProcessEnv, stateDir: string): { path: string; present: boolean } {
  if (real.GLASSDOME_ENV_FILE) {
    if (!existsSync(real.GLASSDOME_ENV_FILE)) {
      throw new ConfigError([`GLASSDOME_ENV_FILE names ${real.GLASSDOME_ENV_FILE}, which does not exist`]);
    }
    return { path: real.GLASSDOME_ENV_FILE, present: true };
  }
  const path = join(stateDir, 'glassdome.env');
  return { path, present: existsSync(path) };
}

export function readSources(real: NodeJS.ProcessEnv, envFile: { path: string; present: boolean }) {
  return { real, file: envFile.present ? readEnvFile(envFile.path) : {} };
}

/** Every variable the processes get, the higher source winning; empty values count as unset. */
export function mergeEnv(sources: EnvSources): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const layer of [sources.generated, sources.file, sources.real]) {
    for (const [name, value] of Object.entries(layer)) if (value !== undefined && value !== '') merged[name] = value;
  }
  return merged;
}

/** Which source a variable's value comes from, for the banner. */
export function sourceOf(name: string, sources: EnvSources): 'environment' | 'env file' | 'generated' | undefined {
  if (sources.real[name]) return 'environment';
  if (sources.file[name]) return 'env file';
  if (sources.generated[name]) return 'generated';
  return undefined;
}

export function launcherSettings(merged: Record<string, string>): LauncherEnv {
  return parseEnv(launcherEnv, merged);
}

/** What a real cluster needs before anything starts, by variable; empty when nothing is missing. */
export function missingForProxmox(merged: Record<string, string>): string[] {
  const problems: string[] = [];
  if (!merged.PROXMOX_TOKEN_SECRET) problems.push('PROXMOX_TOKEN_SECRET is required with PROXMOX_URL');
  const https = merged.PROXMOX_URL?.startsWith('https:');
  if (https && !merged.PROXMOX_TLS_FINGERPRINT && !merged.PROXMOX_CA_FILE) {
    problems.push('PROXMOX_TLS_FINGERPRINT (or PROXMOX_CA_FILE) is required to trust the Proxmox certificate');
  }
  return problems;
}
