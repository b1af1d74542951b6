/**
 * `pnpm start`: Glassdome on one machine — the API, installers, the gateway and the overseer, against
 * the built-in Proxmox simulator (the default) or the real cluster an env file names (PROXMOX_URL),
 * with the Redis and Postgres the settings point at. Prints what a user needs, then supervises: one
 * process dying stops them all, Ctrl-C stops them cleanly. The processes are started by path (apps
 * never import each other), from their compiled bundles (GLASSDOME_RUN_FROM=source: through tsx).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseEnv } from '@glassdome/config';
import {
  addOsTemplates,
  type LocalSimulator,
  OS_TEMPLATE_VMIDS,
  type RunningServices,
  repoRoot,
  simulatorEnv,
  startServices,
  startSimulator,
} from '@glassdome/stack';
import { banner } from './banner';
import { ensureDatabase } from './database';
import { type LauncherEnv, launcherLocations } from './env';
import { envFileOf, launcherSettings, mergeEnv, missingForProxmox, readSources, sourceOf } from './settings';
import { generatedSecrets, simulatorSecrets } from './state';

function fail(message: string): never {
  process.stderr.write(`start: ${message}\n`);
  process.exit(1);
}

/** Each process's lines, prefixed with its name, so warnings and errors stay readable side by side. */
function echo(name: string, line: string): void {
  process.stdout.write(`${name.padEnd(9)}| ${line}\n`);
}

function processList(installers: number, sim: boolean): string {
  const parts = ['api', `${installers} installer${installers === 1 ? '' : 's'}`, 'gateway', 'overseer'];
  return sim ? `${parts.join(', ')}; pve-sim` : parts.join(', ');
}

async function startSimulated(stateDir: string, merged: Record<string, string>, settings: LauncherEnv) {
  // The simulated cluster is saved next to what Postgres remembers, so a restart finds the VMs it
  // left; its root password and token secret are kept beside it, since the saved cluster holds them.
  const secrets = simulatorSecrets(stateDir);
  let started = false;
  const sim = await startSimulator({
    timeScale: settings.PVE_SIM_TIME_SCALE,
    tls: true,
    dir: join(stateDir, 'sim'),
    ...(merged.PVE_SIM_PORT ? { port: Number(merged.PVE_SIM_PORT) } : {}),
    ...(merged.PVE_SIM_SSH_PORT ? { sshPort: Number(merged.PVE_SIM_SSH_PORT) } : {}),
    ...(merged.PVE_SIM_GUEST_SSH_PORT ? { guestSshPort: Number(merged.PVE_SIM_GUEST_SSH_PORT) } : {}),
    env: {
      ...Object.fromEntries(Object.entries(merged).filter(([name]) => name.startsWith('PVE_SIM_'))),
      PVE_SIM_STATE_FILE: join(stateDir, 'pve-sim-state.json'),
      PVE_SIM_ROOT_PASSWORD: secrets.rootPassword,
      PVE_SIM_TOKEN_SECRET: secrets.tokenSecret,
      LOG_LEVEL: settings.LOG_LEVEL,
      LOG_FORMAT: 'json',
    },
    // Its start-up lines repeat what the banner says; later ones (warnings) are worth showing.
    onLine: (line) => {
      if (started) echo('pve-sim', line);
    },
  });
  started = true;
  try {
    // The catalog's labs need Ubuntu 24.04, Debian 12 and Kali templates beside the default Ubuntu 22.04.
    await addOsTemplates(sim.info);
  } catch (error) {
    await sim.stop();
    throw error;
  }
  return sim;
}

async function main(): Promise<void> {
  const locations = parseEnv(launcherLocations, process.env);
  const stateDir = locations.GLASSDOME_STATE_DIR ?? join(repoRoot, '.glassdome');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const envFile = envFileOf(process.env, stateDir);
  const { real, file } = readSources(process.env, envFile);
  const generated = generatedSecrets(stateDir, {
    adminKey: !real.GLASSDOME_ADMIN_KEY && !file.GLASSDOME_ADMIN_KEY,
    secretKey:
      !real.GLASSDOME_SECRET_KEY && !file.GLASSDOME_SECRET_KEY && !real.GUEST_SSH_KEY_FILE && !file.GUEST_SSH_KEY_FILE,
  });
  const sources = { real, file, generated: generated.vars };
  const merged = mergeEnv(sources);
  const settings = launcherSettings(merged);
  const onProxmox = settings.PROXMOX_URL !== undefined;
  if (onProxmox) {
    const missing = missingForProxmox(merged);
    if (missing.length > 0) throw new ConfigError([...missing, 'run `pnpm glassdome setup` to write the env file']);
  }
  await ensureDatabase(settings.DATABASE_URL);

  const sim: LocalSimulator | undefined = onProxmox ? undefined : await startSimulated(stateDir, merged, settings);
  const env: Record<string, string> = {
    ...(sim ? { TEMPLATE_VMIDS: OS_TEMPLATE_VMIDS } : {}),
    ...merged,
    ...(sim ? simulatorEnv(sim.info) : {}),
    LOG_LEVEL: settings.LOG_LEVEL,
    LOG_FORMAT: merged.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json'),
  };
  let services: RunningServices;
  try {
    services = await startServices({
      env,
      apiPort: settings.API_PORT,
      apiHost: settings.API_HOST,
      installers: settings.GLASSDOME_INSTALLERS,
      overseer: true,
      onLine: echo,
    });
  } catch (error) {
    await sim?.stop();
    throw error;
  }

  const adminKey = merged.GLASSDOME_ADMIN_KEY!;
  const from = sourceOf('GLASSDOME_ADMIN_KEY', sources);
  const adminKeyFrom =
    from === 'environment'
      ? 'from GLASSDOME_ADMIN_KEY'
      : from === 'env file'
        ? `from ${envFile.path}`
        : `generated at the first start, kept in ${generated.path}`;
  process.stdout.write(
    banner({
      apiUrl: services.apiUrl,
      adminKey,
      adminKeyFrom,
      envFile,
      stateDir,
      processes: processList(settings.GLASSDOME_INSTALLERS, sim !== undefined),
      env,
      ...(sim ? { sim: sim.info } : {}),
    }),
  );

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await services.stop();
    await sim?.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  // A launcher that keeps going with a dead API or worker would only hide it: one down, all down.
  for (const child of [...services.all(), ...(sim ? [sim.process] : [])]) {
    void child.exited.then((code) => {
      if (stopping) return;
      process.stderr.write(`start: a process exited with ${code} (its output is above); stopping everything\n`);
      void stop(1);
    });
  }
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
