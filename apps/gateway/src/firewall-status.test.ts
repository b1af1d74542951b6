import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileStateOf } from './firewall-status';

test('the status line says compiled only when enabled, running and nothing pending', () => {
  assert.equal(compileStateOf('Status: enabled/running\n'), 'compiled');
  assert.equal(compileStateOf('Status: enabled/running (pending changes)\n'), 'pending');
  assert.equal(compileStateOf('Status: disabled/running (pending changes)\n'), 'pending');
  // Stopped, or off cluster-wide: no rules are in force, so nothing is known to be compiled.
  assert.equal(compileStateOf('Status: enabled/stopped\n'), 'unknown');
  assert.equal(compileStateOf('Status: disabled/running\n'), 'unknown');
  // Warnings before the line (a syntax error in a rule file) do not hide it.
  assert.equal(compileStateOf('ipset foo: bad entry\nStatus: enabled/running\n'), 'compiled');
  assert.equal(compileStateOf(''), 'unknown');
  assert.equal(compileStateOf('bash: pve-firewall: command not found\n'), 'unknown');
});
