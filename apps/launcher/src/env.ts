/**
 * The launcher's own settings, read from the merged environment (see settings.ts for where each
 * value comes from). Everything else in that environment is passed on to the processes untouched.
 */
import { vars } from '@glassdome/config';
import { z } from 'zod';

/** Where the launcher's files are; read from its own environment only, since the env file is among them. */
export const launcherLocations = z.object({
  /** Directory of the env file, generated secrets and the simulated cluster (git-ignored). Default: `.glassdome` in the repository. */
  GLASSDOME_STATE_DIR: z.string().optional(),
  /** The env file to read (it must exist). Default: `glassdome.env` in the state directory, when present. */
  GLASSDOME_ENV_FILE: z.string().optional(),
});

export const launcherEnv = z.object({
  ...vars.backing,
  API_PORT: vars.api.API_PORT,
  API_HOST: vars.api.API_HOST,
  GLASSDOME_ADMIN_KEY: vars.api.GLASSDOME_ADMIN_KEY,
  /** Proxmox API base: when set, the processes use that cluster and no simulator is started. */
  PROXMOX_URL: z.url().optional(),
  /** Installer processes to start. */
  GLASSDOME_INSTALLERS: z.coerce.number().int().min(0).max(16).default(2),
  /** Time scale of the simulator `pnpm start` runs (1 = as slow as a real cluster). */
  PVE_SIM_TIME_SCALE: z.coerce.number().positive().default(0.25),
  /** Log level of the processes the launcher starts: their lines show in its output, so warnings and up by default. */
  LOG_LEVEL: vars.backing.LOG_LEVEL.unwrap().default('warn'),
});

export type LauncherEnv = z.infer<typeof launcherEnv>;
