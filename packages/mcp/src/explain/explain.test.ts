import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Alert, LabDetail } from '../api/client';
import type { LabEvent } from '../api/events';
import { classifyError, explainLab } from './explain';

const step = (name: string, status: string, extra: Record<string, unknown> = {}) => ({
  name,
  status,
  attempts: status === 'pending' ? 0 : 1,
  queuedAt: null,
  startedAt: status === 'pending' ? null : '2026-01-01T10:00:00.000Z',
  finishedAt: status === 'done' || status === 'failed' ? '2026-01-01T10:00:05.000Z' : null,
  ...extra,
});

function vm(name: string, status: string, steps: ReturnType<typeof step>[], error: string | null = null) {
  return {
    id: `00000000-0000-4000-8000-00000000000${name.length}`,
    name,
    os: 'ubuntu-22.04',
    status,
    labId: 'lab-1',
    copy: 0,
    node: 'pve01',
    vmid: 1000 + name.length,
    ip: null,
    observedStatus: null,
    error,
    createdAt: '2026-01-01T10:00:00.000Z',
    updatedAt: '2026-01-01T10:00:00.000Z',
    steps,
  };
}

test('errors are sorted into the kinds Glassdome has remedies for', () => {
  assert.equal(classifyError('guest agent did not report an IP within 3 s'), 'guest-agent');
  assert.equal(classifyError('Proxmox refused VM.Clone on /vms/9001 (403 Permission check failed)'), 'permission');
  assert.equal(classifyError('no template for debian-12 on pve01'), 'template');
  assert.equal(classifyError('ssh 127.64.1.2:22: connect timed out'), 'ssh');
  assert.equal(classifyError('quota maxVms of project blue: 10 in use + 2 requested exceeds 10'), 'quota');
  assert.equal(classifyError(null), 'unknown');
});

test('a failed lab is explained by its failing step, events and alerts, with remedies that name their tool', () => {
  const agentError = 'guest agent did not answer within 3 s (4 attempts)';
  const mute = vm(
    'mute',
    'failed',
    [
      step('clone', 'done'),
      step('wait-agent', 'failed', { attempts: 4, error: agentError }),
      step('verify', 'pending'),
    ],
    agentError,
  );
  const fine = vm('ok', 'ready', [step('clone', 'done'), step('verify', 'done')]);
  const lab = {
    id: 'lab-1',
    name: 'mute-lab',
    status: 'failed',
    copies: 1,
    onFailure: 'fail',
    expiresAt: null,
    error: `c0:vm:mute:provision: ${agentError}`,
    createdAt: '2026-01-01T10:00:00.000Z',
    updatedAt: '2026-01-01T10:00:00.000Z',
    steps: [step('c0:net:lan', 'done'), step('c0:vm:mute:provision', 'failed', { error: agentError })],
    vms: [mute, fine],
  } as unknown as LabDetail;
  const events: LabEvent[] = [
    { id: 1, at: 't', kind: 'lab.requested', message: 'deploy requested', vmId: null },
    { id: 2, at: 't', kind: 'step.started', message: 'clone started', vmId: fine.id },
    { id: 3, at: 't', kind: 'step.failed', message: 'wait-agent failed', vmId: mute.id },
  ];
  const alerts = [
    { id: 'a1', kind: 'vm-no-ip', severity: 'warning', subject: `vm/${mute.id}`, message: 'no IP', state: 'open' },
    { id: 'a2', kind: 'storage-full', severity: 'warning', subject: 'storage/local', message: 'full', state: 'open' },
  ] as unknown as Alert[];

  const explained = explainLab(lab, events, alerts);
  assert.equal(explained.failed, true);
  assert.equal(explained.vms.length, 1);
  const [failure] = explained.vms;
  assert.equal(failure?.failingStep?.name, 'wait-agent');
  assert.equal(failure?.failingStep?.attempts, 4);
  assert.equal(failure?.failingStep?.durationMs, undefined);
  assert.equal(failure?.kind, 'guest-agent');
  assert.equal(failure?.steps.length, 3);
  assert.deepEqual(
    explained.tasks.map((task) => task.name),
    ['c0:vm:mute:provision'],
  );
  assert.deepEqual(
    explained.events.map((event) => event.id),
    [3],
  );
  assert.deepEqual(
    explained.alerts.map((alert) => alert.id),
    ['a1'],
  );
  assert.deepEqual(
    explained.remedies.map((remedy) => remedy.kind),
    ['check-template', 'retry'],
  );
  assert.deepEqual(explained.remedies[1]?.tool, { name: 'retry_lab', arguments: { labId: 'lab-1' } });
  assert.match(explained.summary, /mute \(copy 0\) failed at wait-agent after 4 attempt/);
});

test('a refused privilege becomes a permission repair naming the path and privilege', () => {
  const error = 'Proxmox refused VM.Clone on /vms/9001: Permission check failed';
  const lab = {
    id: 'lab-2',
    name: 'p',
    status: 'failed',
    error,
    steps: [],
    vms: [vm('t', 'failed', [step('clone', 'failed', { error })], error)],
  } as unknown as LabDetail;
  const repair = explainLab(lab, [], []).remedies.find((remedy) => remedy.kind === 'permission-repair');
  assert.ok(repair?.api, 'a permission repair names its API call');
  const body = repair.api.body as { path: string; privileges: string[] };
  assert.equal(body.path, '/vms/9001');
  assert.deepEqual(body.privileges, ['VM.Clone']);
});
