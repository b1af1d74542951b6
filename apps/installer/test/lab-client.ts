/**
 * A lab as the end-to-end tests drive it: a small spec, deployed, read and waited on over the API; an
 * operation followed to its end; the lab's whole timeline; a command run on one of its VMs over SSH as
 * the trainee. Takes the harness through a getter, since a file's harness starts in its `before`.
 */
import assert from 'node:assert/strict';
import { SshPool, type SshTarget } from '@glassdome/ssh';
import { waitFor } from '@glassdome/testkit';
import { type Harness, memoryHostKeys } from './harness';

export type LabVm = {
  id: string;
  name: string;
  copy: number;
  status: string;
  access: { host: string; port: number } | null;
};
export type Lab = { id: string; status: string; error?: string; expiresAt: string | null; vms: LabVm[] };
export type Operation = { id: string; status: string; error: string | null; progress: { done: number; total: number } };
export type LabEvent = { kind: string; message: string; data: Record<string, unknown> | null };

export function labClient(harnessOf: () => Harness) {
  const ssh = new SshPool();
  const hostKeys = memoryHostKeys();

  /** A lab of two Ubuntu VMs (`box`, `peer`) on one network, reachable with the harness's user key. */
  function spec(name: string, extra: Record<string, unknown> = {}) {
    const vm = (vmName: string) => ({
      name: vmName,
      os: 'ubuntu-22.04',
      networks: ['lan'],
      cloudInit: { user: 'trainee', sshKeys: [harnessOf().userKey.publicKey] },
    });
    return { name, networks: [{ name: 'lan', cidr: '10.50.0.0/24' }], vms: [vm('box'), vm('peer')], ...extra };
  }

  async function labOf(id: string): Promise<Lab> {
    return (await harnessOf().api('GET', `/api/v1/labs/${id}`)).body as unknown as Lab;
  }

  /** The lab once it reaches one of `statuses` (by default, once it has settled). */
  async function settled(id: string, statuses?: readonly string[], timeoutMs = 240_000): Promise<Lab> {
    return (await harnessOf().waitForLab(id, timeoutMs, statuses)) as unknown as Lab;
  }

  async function deploy(body: unknown): Promise<string> {
    const accepted = await harnessOf().api('POST', '/api/v1/labs', body);
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    return String(accepted.body.id);
  }

  async function operationDone(labId: string, operationId: string, timeoutMs = 180_000): Promise<Operation> {
    return waitFor(
      `operation ${operationId} to end`,
      async () => {
        const { body } = await harnessOf().api('GET', `/api/v1/labs/${labId}/operations/${operationId}`);
        const operation = body as unknown as Operation;
        return ['done', 'failed'].includes(operation.status) ? operation : undefined;
      },
      { timeoutMs, intervalMs: 300 },
    );
  }

  function asTrainee(vm: LabVm): SshTarget {
    assert.ok(vm.access, `${vm.name} of copy ${vm.copy} says how to reach it`);
    return {
      host: vm.access.host,
      port: vm.access.port,
      username: 'trainee',
      privateKey: harnessOf().userKey.privateKey,
      hostKey: { kind: 'tofu', store: hostKeys },
    };
  }

  async function sh(vm: LabVm, command: string) {
    const result = await ssh.exec(asTrainee(vm), ['sh', '-c', command], { allowFailure: true, timeoutMs: 30_000 });
    return { code: result.exitCode, out: result.stdout.trim() };
  }

  /** The lab's timeline, oldest first (every page). */
  async function eventsOf(labId: string): Promise<LabEvent[]> {
    const { stack } = harnessOf();
    const events: LabEvent[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const response = await fetch(`${stack.apiUrl}/api/v1/labs/${labId}/events?${query}`, {
        headers: { Authorization: `Bearer ${stack.adminKey}`, Accept: 'application/json' },
      });
      assert.equal(response.status, 200);
      const page = (await response.json()) as { items: LabEvent[]; nextCursor: string | null };
      events.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return events;
  }

  return { spec, labOf, settled, deploy, operationDone, sh, eventsOf, close: () => ssh.close() };
}
