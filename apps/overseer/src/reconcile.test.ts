import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DesiredState, DesiredVm } from './desired';
import { inventoryFromResources } from './inventory';
import { reconcile } from './reconcile';
import type { ReconcileOptions } from './reconcile-options';

const now = new Date('2026-01-01T12:00:00Z');
const options: ReconcileOptions = {
  platformId: 'default',
  now,
  storageThreshold: 0.8,
  noIpAfterSeconds: 300,
  stepBoundSeconds: 600,
  sshUnreachable: new Set(),
  templateDigests: new Map(),
};

const vmId = '00000000-0000-4000-8000-000000000001';
const labId = '00000000-0000-4000-8000-0000000000aa';

function desiredVm(overrides: Partial<DesiredVm> = {}): DesiredVm {
  return {
    id: vmId,
    name: 'web',
    labId,
    labStatus: 'ready',
    status: 'ready',
    desiredState: 'running',
    vmid: 1000,
    node: 'pve01',
    ip: '10.0.0.5',
    ...overrides,
  };
}

function desired(overrides: Partial<DesiredState> = {}): DesiredState {
  return { vms: [desiredVm()], labs: [], templates: [], runningSteps: [], ...overrides };
}

const node = (name: string, status = 'online') => ({ type: 'node', id: `node/${name}`, node: name, status });
const vm = (vmid: number, fields: Record<string, unknown> = {}) => ({
  type: 'qemu',
  id: `qemu/${vmid}`,
  vmid,
  node: 'pve01',
  name: `vm-${vmid}`,
  status: 'running',
  uptime: 1000,
  tags: 'glassdome',
  ...fields,
});
const template = { ...vm(9000, { status: 'stopped', template: 1, tags: undefined }) };

function kinds(rows: Record<string, unknown>[], state = desired(), opts = options) {
  return reconcile(state, inventoryFromResources(rows), opts).map((f) => f.kind);
}

test('a healthy platform has no findings, and a stopped template is not a stopped VM', () => {
  assert.deepEqual(kinds([node('pve01'), vm(1000), template]), []);
});

test('a VM that should run but is stopped asks for start-vm', () => {
  const [finding, ...rest] = reconcile(
    desired(),
    inventoryFromResources([node('pve01'), vm(1000, { status: 'stopped' })]),
    options,
  );
  assert.equal(rest.length, 0);
  assert.equal(finding?.kind, 'vm-stopped');
  assert.equal(finding?.dedupKey, `default:vm-stopped:vm/${vmId}`);
  assert.deepEqual(finding?.remediation, { action: 'start-vm', vmId, vmid: 1000, node: 'pve01', labId });
});

test('a missing VM of a live lab is critical and asks for a re-clone; a standalone one only alerts', () => {
  const [labVm] = reconcile(desired(), inventoryFromResources([node('pve01')]), options);
  assert.equal(labVm?.kind, 'vm-missing');
  assert.equal(labVm?.severity, 'critical');
  assert.equal(labVm?.remediation?.action, 'reclone-vm');
  const standalone = desired({ vms: [desiredVm({ labId: null, labStatus: null })] });
  const [alone] = reconcile(standalone, inventoryFromResources([node('pve01')]), options);
  assert.equal(alone?.kind, 'vm-missing');
  assert.equal(alone?.remediation, undefined);
});

test('VMs still deploying, failed or meant to be absent are not checked', () => {
  const state = desired({
    vms: [
      desiredVm({ status: 'deploying' }),
      desiredVm({ id: 'b', status: 'failed' }),
      desiredVm({ id: 'c', desiredState: 'absent' }),
    ],
  });
  assert.deepEqual(kinds([node('pve01')], state), []);
});

test('a running VM without an IP long after boot asks for the agent again; a fresh one does not', () => {
  const state = desired({ vms: [desiredVm({ ip: null })] });
  assert.deepEqual(kinds([node('pve01'), vm(1000, { uptime: 301 })], state), ['vm-no-ip']);
  assert.deepEqual(kinds([node('pve01'), vm(1000, { uptime: 60 })], state), []);
});

test('dead SSH on a running VM asks for a reboot', () => {
  const [finding] = reconcile(desired(), inventoryFromResources([node('pve01'), vm(1000)]), {
    ...options,
    sshUnreachable: new Set([vmId]),
  });
  assert.equal(finding?.kind, 'vm-ssh-dead');
  assert.equal(finding?.remediation?.action, 'reboot-vm');
});

test('an offline node is critical, and its VMs (status unknown) are not reported stopped', () => {
  const findings = reconcile(
    desired(),
    inventoryFromResources([node('pve01', 'offline'), vm(1000, { status: 'unknown' })]),
    options,
  );
  assert.deepEqual(
    findings.map((f) => [f.kind, f.severity, f.subject]),
    [['node-offline', 'critical', 'node/pve01']],
  );
});

test('a tagged VM nobody owns is an orphan; untagged, owned, template or mid-clone VMs are not', () => {
  const rows = [
    node('pve01'),
    vm(1000),
    vm(1001),
    vm(1002, { tags: 'other' }),
    vm(1003, { lock: 'clone' }),
    { ...template, tags: 'glassdome' },
  ];
  const findings = reconcile(desired(), inventoryFromResources(rows), options);
  assert.deepEqual(
    findings.map((f) => [f.kind, f.subject, f.remediation?.action]),
    [['orphan-vm', 'vmid/1001', 'destroy-orphan']],
  );
});

test('a storage above the threshold is reported', () => {
  const storage = (name: string, used: number) => ({
    type: 'storage',
    id: `storage/pve01/${name}`,
    node: 'pve01',
    storage: name,
    disk: used,
    maxdisk: 100,
  });
  const findings = reconcile(
    desired({ vms: [] }),
    inventoryFromResources([node('pve01'), storage('local', 50), storage('local-lvm', 90), storage('big', 99)]),
    options,
  );
  assert.deepEqual(
    findings.map((f) => [f.kind, f.subject, f.severity]),
    [
      ['storage-full', 'storage/pve01/local-lvm', 'warning'],
      ['storage-full', 'storage/pve01/big', 'critical'],
    ],
  );
});

test('a template that is missing, no longer a template, or edited is reported', () => {
  const tpl = { id: 't1', node: 'pve01', os: 'ubuntu-22.04', vmid: 9000, name: 'tpl', configDigest: 'abc' };
  const state = desired({ vms: [], templates: [tpl] });
  assert.deepEqual(kinds([node('pve01')], state), ['template-missing']);
  assert.deepEqual(kinds([node('pve01'), vm(9000, { tags: undefined })], state), ['template-missing']);
  assert.deepEqual(
    kinds([node('pve01'), template], state, { ...options, templateDigests: new Map([[9000, 'abc']]) }),
    [],
  );
  assert.deepEqual(kinds([node('pve01'), template], state, { ...options, templateDigests: new Map([[9000, 'def']]) }), [
    'template-changed',
  ]);
});

test('a template on an offline node is left to the node alert', () => {
  const tpl = { id: 't1', node: 'pve01', os: 'ubuntu-22.04', vmid: 9000, name: 'tpl', configDigest: null };
  const state = desired({ vms: [], templates: [tpl] });
  assert.deepEqual(kinds([node('pve01', 'offline'), vm(9000, { status: 'unknown', tags: undefined })], state), [
    'node-offline',
  ]);
});

test('a lab past its TTL asks for tear-down', () => {
  const labs = [
    { id: labId, name: 'old', status: 'ready', expiresAt: new Date(now.getTime() - 1) },
    { id: 'fresh', name: 'new', status: 'ready', expiresAt: new Date(now.getTime() + 60_000) },
    { id: 'forever', name: 'kept', status: 'ready', expiresAt: null },
  ];
  const findings = reconcile(desired({ vms: [], labs }), inventoryFromResources([node('pve01')]), options);
  assert.deepEqual(
    findings.map((f) => [f.kind, f.remediation]),
    [['lab-expired', { action: 'expire-lab', labId }]],
  );
});

test('a step running longer than its bound is a stuck deploy', () => {
  const runningSteps = [
    { vmId, labId: null, name: 'wait-agent', startedAt: new Date(now.getTime() - 601_000) },
    { vmId, labId: null, name: 'clone', startedAt: new Date(now.getTime() - 10_000) },
  ];
  const findings = reconcile(desired({ vms: [], runningSteps }), inventoryFromResources([node('pve01')]), options);
  assert.deepEqual(
    findings.map((f) => [f.kind, f.subject]),
    [['deploy-stuck', `vm/${vmId}/step/wait-agent`]],
  );
});
