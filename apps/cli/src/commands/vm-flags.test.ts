import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vmRequestFromFlags } from './vm';

test('--template sends a VMID as a number and a name as a string', () => {
  const byId = vmRequestFromFlags({ name: 'a', os: 'ubuntu-22.04', template: '8888' } as never);
  assert.equal(byId.template, 8888);
  const byName = vmRequestFromFlags({ name: 'b', os: 'ubuntu-22.04', template: 'kali-tmpl' } as never);
  assert.equal(byName.template, 'kali-tmpl');
});
