import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type Db, insertQueuedVm } from '../src/index';

/**
 * A standalone VM queued as `POST /vms` queues it (project `default`, quotas out of the way), with
 * `plan` as its planned steps; resolves with its id.
 */
export async function queueVm(db: Db, plan: string[], prefix = 'vm'): Promise<string> {
  const id = randomUUID();
  const queued = await insertQueuedVm(
    db,
    {
      id,
      name: `${prefix}-${id.slice(0, 8)}`,
      os: 'debian-12',
      platformId: 'p',
      node: 'pve',
      spec: {},
      project: 'default',
      cpus: 1,
      memoryMiB: 512,
    },
    plan,
    { kind: 'job', name: 'vm.deploy', payload: { vmId: id }, jobId: `vm-deploy.${id}` },
    { maxVms: 1_000, maxVcpus: 1_000, maxMemoryMiB: 1_000_000 },
  );
  assert.ok(queued.inserted);
  return id;
}
