import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlineExceededError } from '@glassdome/proxmox';
import { AgentSilentError, agentAnswer, rebootBeforeAgentWait } from './agent-retry';

test('only an attempt that failed because the agent never answered makes the next one reboot', async () => {
  const silent = await agentAnswer(101, () =>
    Promise.reject(new DeadlineExceededError('guest agent IP of VM 101 did not happen within 300000 ms')),
  ).catch((e) => e);
  assert.ok(silent instanceof AgentSilentError);
  assert.equal(rebootBeforeAgentWait(silent.message), true);
  // What a Postgres outage, a timeout, a hand-back or a crash leave behind: no reboot.
  assert.equal(rebootBeforeAgentWait('terminating connection due to administrator command'), false);
  assert.equal(rebootBeforeAgentWait('connect ECONNREFUSED 127.0.0.1:5432'), false);
  assert.equal(rebootBeforeAgentWait('vm.deploy did not finish within 1800000 ms'), false);
  assert.equal(rebootBeforeAgentWait(null), false, 'a step left running by a crash');
  assert.equal(rebootBeforeAgentWait(undefined), false, 'a first attempt');
  const other = new Error('boom');
  assert.equal(await agentAnswer(101, () => Promise.reject(other)).catch((e) => e), other);
});
