/** Saving and loading the whole cluster state as a JSON snapshot file. */
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Simulator } from './sim';
import type { ClusterState } from './state/types';

/** Raised when a snapshot file cannot be read as a simulator state. */
export class SnapshotFormatError extends Error {
  constructor(file: string, reason: string) {
    super(`${file} is not a pve-sim snapshot: ${reason}`);
    this.name = 'SnapshotFormatError';
  }
}

const formatVersion = 1;

let saves = 0;

/**
 * Writes the state atomically (temp file + rename), so a crash never leaves half a snapshot. Each
 * save has its own temp file: a `POST /_sim/save` racing the save at SIGTERM must not share one.
 */
export async function saveSnapshot(sim: Simulator, file: string): Promise<void> {
  const temp = `${file}.tmp-${process.pid}-${++saves}`;
  await writeFile(
    temp,
    JSON.stringify({ format: 'pve-sim', version: formatVersion, savedAt: new Date().toISOString(), state: sim.state }),
    {
      mode: 0o600,
    },
  );
  await rename(temp, file);
}

/**
 * Replaces the simulator's state with the file's; tasks that were running are marked interrupted.
 * Guests' disks (`vm.guest`: files, packages, services, host keys) and the node's host key are part
 * of the state, so a restarted simulator's guests are the same machines.
 */
export async function loadSnapshot(sim: Simulator, file: string): Promise<void> {
  let parsed: { format?: string; version?: number; state?: ClusterState };
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new SnapshotFormatError(file, error instanceof Error ? error.message : String(error));
  }
  if (parsed.format !== 'pve-sim' || parsed.version !== formatVersion || !parsed.state?.vms) {
    throw new SnapshotFormatError(file, `expected format pve-sim version ${formatVersion}`);
  }
  for (const task of Object.values(parsed.state.tasks)) {
    if (task.status !== 'running') continue;
    task.status = 'stopped';
    task.exitstatus = 'unexpected status';
    task.log.push('TASK ERROR: simulator restarted');
  }
  for (const vm of Object.values(parsed.state.vms)) {
    if (vm.config.lock !== 'clone' && vm.config.lock !== 'create') continue;
    // A VM whose clone or create was cut short is dropped with the volumes it had allocated.
    delete parsed.state.vms[vm.vmid];
    for (const storage of Object.values(parsed.state.storages)) {
      for (const [name, volume] of Object.entries(storage.volumes))
        if (volume.vmid === vm.vmid) delete storage.volumes[name];
    }
  }
  sim.replaceState(parsed.state);
}

/** The state without secrets, for the admin dump. */
export function redactedState(state: ClusterState): unknown {
  return JSON.parse(JSON.stringify(state), (key, value) => {
    if ((key === 'secret' || key === 'password' || key === 'privateKey') && typeof value === 'string') {
      return '[redacted]';
    }
    if (key === 'cipassword' && typeof value === 'string') return '**********';
    return value;
  });
}
