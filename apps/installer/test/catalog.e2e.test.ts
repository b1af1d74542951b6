import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LAB_CATALOG } from '@glassdome/lab';
import { addOsTemplates, OS_TEMPLATE_VMIDS, waitFor } from '@glassdome/testkit';
import { type Harness, startHarness } from './harness';

let harness: Harness;
before(async () => {
  harness = await startHarness({ installers: 2, env: { TEMPLATE_VMIDS: OS_TEMPLATE_VMIDS } });
  await addOsTemplates(harness.sim.info, { grantClone: true });
});
after(async () => {
  await harness?.stop();
});

type LabVm = { name: string; status: string; vmid: number; error?: string; steps: unknown[] };
type Lab = { status: string; error?: string; vms: LabVm[] };

const settled = ['ready', 'failed', 'degraded'];

async function labOf(id: string): Promise<Lab> {
  return (await harness.api('GET', `/api/v1/labs/${id}`)).body as Lab;
}

/** What ran on each VM that did not get ready: the lab's own answer plus the guest's recorded effects. */
async function explain(lab: Lab): Promise<string> {
  const broken = lab.vms.filter((vm) => vm.status !== 'ready');
  const summary = lab.vms.map((vm) => `${vm.name}=${vm.status}`).join(' ');
  const details = await Promise.all(
    broken.map(async (vm) => {
      const effects = await harness.sim.admin('GET', `/guest-effects?vmid=${vm.vmid}`);
      return `${vm.name}: ${JSON.stringify(vm)}\neffects: ${JSON.stringify(effects).slice(-4000)}`;
    }),
  );
  return `lab ${lab.status} (${summary}) ${lab.error ?? ''}\n${details.join('\n')}`;
}

type Effect = { kind: string; path?: string; content?: string; name?: string; action?: string; command?: string };

async function effectsOf(lab: Lab, vmName: string): Promise<Effect[]> {
  const vm = lab.vms.find((candidate) => candidate.name === vmName);
  assert.ok(vm, `no VM ${vmName}`);
  return (await harness.sim.admin('GET', `/guest-effects?vmid=${vm.vmid}`)) as Effect[];
}

/** Evidence, per lab, that its provisioning really ran on the guests (not just that it was marked done). */
const provisioned: Record<string, (lab: Lab) => Promise<void>> = {
  'web-pentest-101': async (lab) => {
    const target = await effectsOf(lab, 'target');
    assert.ok(target.some((e) => e.kind === 'service' && e.name === 'apache2' && e.action === 'start'));
    // Each provisioning item is uploaded as a script and run: the check's script held the curl, and ran.
    const script = target.find(
      (e) => e.kind === 'file-written' && /curl -fsS http:\/\/127\.0\.0\.1\//.test(e.content ?? ''),
    );
    assert.ok(script?.path, 'the check was uploaded as a script');
    assert.ok(
      target.some((e) => e.kind === 'command' && (e.command ?? '').includes(script.path!)),
      'and it ran',
    );
  },
  'ad-basics': async (lab) => {
    const dc = await effectsOf(lab, 'dc');
    const krb5 = dc.filter((e) => e.kind === 'file-written' && e.path === '/etc/krb5.conf').at(-1);
    assert.match(krb5?.content ?? '', /default_realm = CORP\.LAB/);
    assert.ok(dc.some((e) => e.kind === 'file-written' && e.path === '/root/administrator-password'));
  },
  'network-forensics': async (lab) => {
    const sensor = await effectsOf(lab, 'sensor');
    assert.ok(sensor.some((e) => e.kind === 'service' && e.name === 'lab-capture' && e.action === 'start'));
  },
};

async function deployTemplate(template: string): Promise<string> {
  const accepted = await harness.api('POST', '/api/v1/labs', { template });
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  const id = String(accepted.body.id);
  const lab = await waitFor(
    `lab ${template} to settle`,
    async () => {
      const body = await labOf(id);
      return settled.includes(body.status) ? body : undefined;
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  ).catch(async (error: Error) => {
    // A lab stuck mid-deployment says where: each VM's steps and what its guest ran.
    throw new Error(`${error.message}\n${await explain(await labOf(id))}`);
  });
  assert.equal(lab.status, 'ready', `${template}: ${await explain(lab)}`);
  await provisioned[template]?.(lab);
  return id;
}

async function destroy(id: string) {
  const deleted = await harness.api('DELETE', `/api/v1/labs/${id}`);
  assert.equal(deleted.status, 202, JSON.stringify(deleted.body));
  await waitFor('lab destroyed', async () => (await labOf(id)).status === 'destroyed', { timeoutMs: 120_000 });
}

test('every catalog lab deploys to ready on the simulator and tears down to destroyed', async () => {
  const templates = LAB_CATALOG.map((entry) => entry.id);
  assert.deepEqual(templates.sort(), ['ad-basics', 'network-forensics', 'web-pentest-101']);
  // All three at once: a failing lab still lets the others finish, so every failure is reported.
  const deployed = await Promise.allSettled(templates.map(deployTemplate));
  const ids = deployed.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  await Promise.all(ids.map(destroy));
  for (const result of deployed) if (result.status === 'rejected') throw result.reason;
});
