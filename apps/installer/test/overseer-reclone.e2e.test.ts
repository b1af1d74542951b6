import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import { type Harness, startHarness } from './harness';

let harness: Harness;
before(async () => {
  harness = await startHarness({
    installers: 1,
    overseer: true,
    env: { OVERSEER_SCAN_SECONDS: '1', OVERSEER_SSH_PROBE: '0' },
  });
});
after(async () => harness?.stop());

type LabVm = { name: string; status: string; vmid: number; ip: string };

async function labVm(labId: string): Promise<{ status: string; vm: LabVm }> {
  const { body } = await harness.api('GET', `/api/v1/labs/${labId}`);
  return { status: String(body.status), vm: (body.vms as LabVm[])[0]! };
}

test('a lab VM deleted behind our back raises a critical alert and is re-cloned onto the lab', async () => {
  const accepted = await harness.api('POST', '/api/v1/labs', {
    name: 'rot',
    networks: [{ name: 'lan', cidr: '10.60.0.0/24' }],
    vms: [{ name: 'victim', os: 'ubuntu-22.04', networks: ['lan'] }],
  });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const labId = String(accepted.body.id);
  const first = await waitFor(
    'lab ready',
    async () => {
      const lab = await labVm(labId);
      return lab.status === 'ready' ? lab.vm : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );

  await harness.sim.admin('DELETE', `/vms/${first.vmid}`);

  const alert = await waitFor(
    'a vm-missing alert',
    async () => {
      const { body } = await harness.api('GET', '/api/v1/alerts');
      const items = (body.items ?? body.alerts ?? []) as { kind: string; severity: string; subject: string }[];
      return items.find((item) => item.kind === 'vm-missing');
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  assert.equal(alert.severity, 'critical');

  const again = await waitFor(
    'the VM re-cloned and ready',
    async () => {
      const lab = await labVm(labId);
      return lab.status === 'ready' && lab.vm.vmid !== first.vmid && lab.vm.status === 'ready' ? lab.vm : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  assert.notEqual(again.vmid, first.vmid);

  const state = (await harness.sim.admin('GET', '/state')) as { vms: Record<string, unknown> };
  assert.ok(state.vms[String(again.vmid)], 'the new VM exists in the cluster');
  await waitFor(
    'the alert to resolve',
    async () => {
      const { body } = await harness.api('GET', '/api/v1/alerts?state=resolved');
      const items = (body.items ?? body.alerts ?? []) as { kind: string }[];
      return items.some((item) => item.kind === 'vm-missing');
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
});
