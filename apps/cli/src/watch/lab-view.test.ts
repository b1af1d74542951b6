import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StepView } from '../present';
import { type LabView, vmProgress } from './lab-view';

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds)).toISOString();

function labWith(status: string, steps: StepView[], ip: string | null = null): LabView {
  return {
    id: 'lab',
    name: 'lab',
    status: 'deploying',
    createdAt: at(0),
    vms: [{ id: 'vm', name: 'target', os: 'ubuntu-22.04', status, ip, steps }],
  };
}

test('a deploying VM shows its running step, the steps done so far, and time since its first step started', () => {
  const steps: StepView[] = [
    { name: 'reserve-vmid', status: 'done', attempts: 1, startedAt: at(1), finishedAt: at(2) },
    { name: 'clone', status: 'running', attempts: 2, startedAt: at(2), finishedAt: null },
    { name: 'start', status: 'pending', attempts: 0 },
  ];
  const [row] = vmProgress(labWith('deploying', steps), Date.parse(at(11)));
  assert.deepEqual(row, {
    id: 'vm',
    name: 'target',
    status: 'deploying',
    step: 'clone (running)',
    stepsDone: 1,
    stepsTotal: 3,
    elapsedSeconds: 10,
    ip: null,
  });
});

test('a settled VM stops its clock at its last finished step and shows its IP', () => {
  const steps: StepView[] = [
    { name: 'clone', status: 'done', attempts: 1, startedAt: at(1), finishedAt: at(3) },
    { name: 'verify', status: 'done', attempts: 1, startedAt: at(3), finishedAt: at(7) },
  ];
  const [row] = vmProgress(labWith('ready', steps, '10.0.0.9'), Date.parse(at(50)));
  assert.equal(row!.step, 'ready');
  assert.equal(row!.elapsedSeconds, 6);
  assert.equal(row!.ip, '10.0.0.9');
  assert.equal(row!.stepsDone, 2);
});

test('a VM whose first step has not started shows the step it waits for and no time', () => {
  const [row] = vmProgress(labWith('queued', [{ name: 'reserve-vmid', status: 'pending', attempts: 0 }]));
  assert.equal(row!.step, 'reserve-vmid (pending)');
  assert.equal(row!.elapsedSeconds, 0);
});
