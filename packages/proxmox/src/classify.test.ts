import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyAnswer, classifyText } from './classify';
import {
  AgentNotConfiguredError,
  AgentNotReadyError,
  AlreadyExistsError,
  AuthenticationError,
  ConflictError,
  InvalidParameterError,
  NotFoundError,
  PermissionError,
  ProxmoxError,
  TransientError,
  VmNotRunningError,
} from './errors';

const answer = (status: number, statusText: string, body: unknown = { data: null }) =>
  classifyAnswer({ status, statusText, body, request: 'GET /x' });

test('403 names the ACL path and privilege, in the status line (PVE ≤ 8.2) or the body (≥ 8.3)', () => {
  for (const error of [
    answer(403, 'Permission check failed (/vms/100, VM.Audit)'),
    answer(403, 'Forbidden', { data: null, message: 'Permission check failed (/vms/100, VM.Audit)\n' }),
  ]) {
    assert.ok(error instanceof PermissionError);
    assert.equal(error.path, '/vms/100');
    assert.equal(error.privilege, 'VM.Audit');
    assert.equal(error.retryable, false);
  }
  const any = answer(403, 'Permission check failed (/sdn/zones/localnetwork/vmbr0, SDN.Use|SDN.Audit)');
  assert.ok(any instanceof PermissionError);
  assert.equal(any.privilege, 'SDN.Use|SDN.Audit');
  const rootOnly = answer(403, 'Permission check failed (user != root@pam)');
  assert.ok(rootOnly instanceof PermissionError);
  assert.equal(rootOnly.path, undefined);
});

test('transient: 5xx without a known cause, proxy pseudo-statuses, lock timeouts, locked VMs', () => {
  const cases: [number, string][] = [
    [500, "can't lock file '/var/lock/qemu-server/lock-203.conf' - got timeout"],
    [500, 'VM is locked (clone)'],
    [500, "cfs-lock 'storage-local-lvm' error: got lock request timeout"],
    [500, 'something unexpected happened'],
    [595, 'Connection refused'],
    [596, 'Connection timed out'],
    [503, 'Service Unavailable'],
  ];
  for (const [status, text] of cases) {
    const error = answer(status, text);
    assert.ok(error instanceof TransientError, `${status} ${text} → ${error.name}`);
    assert.equal(error.retryable, true);
  }
  assert.equal((answer(595, 'Connection refused') as TransientError).maybeApplied, false);
  assert.equal((answer(596, 'Connection timed out') as TransientError).maybeApplied, true);
});

test('not found: 404, "does not exist", unknown task', () => {
  assert.ok(answer(500, "Configuration file 'nodes/pve/qemu-server/117.conf' does not exist") instanceof NotFoundError);
  assert.ok(answer(404, 'Not Found') instanceof NotFoundError);
  const task = answer(400, 'Parameter verification failed.', { data: null, errors: { upid: 'no such task' } });
  assert.ok(task instanceof NotFoundError);
  assert.deepEqual(task.fieldErrors, { upid: 'no such task' });
});

test('already exists: nextid probe, create, clone, tokens, users', () => {
  const probe = answer(400, 'Parameter verification failed.', {
    errors: { vmid: 'VM 218 already exists' },
    data: null,
  });
  assert.ok(probe instanceof AlreadyExistsError);
  assert.equal(probe.retryable, false);
  for (const text of [
    "unable to create VM 106 - VM 106 already exists on node 'pve-9l'",
    'unable to create VM 107: config file already exists',
    "close (rename) atomic file '/etc/pve/nodes/pve2/qemu-server/108.conf' failed: File exists",
    "create user failed: user 'x@pve' already exists",
  ]) {
    assert.ok(answer(500, text) instanceof AlreadyExistsError, text);
  }
});

test('invalid parameters carry every field error and are never retried', () => {
  const error = answer(400, 'Parameter verification failed.', {
    data: null,
    message: 'Parameter verification failed.\n',
    errors: {
      name: 'invalid format - value does not look like a valid DNS name\n',
      cores: "type check ('integer') failed - got 'x'",
    },
  });
  assert.ok(error instanceof InvalidParameterError);
  assert.equal(error.retryable, false);
  assert.equal(error.fieldErrors.name, 'invalid format - value does not look like a valid DNS name');
  assert.match(error.message, /GET \/x failed with 400: Parameter verification failed\. — name: invalid format/);
  assert.ok(answer(500, 'SSH public key validation error') instanceof InvalidParameterError);
});

test('401 without a body is an authentication error; 501 is a client bug, not transient', () => {
  const error = answer(401, 'Authentication failed!', '');
  assert.ok(error instanceof AuthenticationError);
  assert.equal(error.pveMessage, 'Authentication failed!');
  const unknownPath = answer(501, "Method 'GET /foo' not implemented");
  assert.equal(unknownPath.constructor, ProxmoxError);
  assert.equal(unknownPath.retryable, false);
});

test('guest agent and VM state wording', () => {
  assert.ok(answer(500, 'QEMU guest agent is not running') instanceof AgentNotReadyError);
  assert.equal(answer(500, 'QEMU guest agent is not running').retryable, true);
  const missing = answer(500, 'No QEMU guest agent configured');
  assert.ok(missing instanceof AgentNotConfiguredError);
  assert.equal(missing.retryable, false);
  assert.ok(answer(500, 'VM 100 is not running') instanceof VmNotRunningError);
  assert.ok(answer(500, 'VM 100 not running') instanceof VmNotRunningError);
  assert.ok(answer(500, "you can't start a vm if it's a template") instanceof ConflictError);
});

test('task exit statuses use the same vocabulary', () => {
  const details = {};
  assert.ok(
    classifyText(
      "clone failed: can't lock file '/var/lock/pve-manager/pve-storage-local-lvm' - got timeout",
      'm',
      details,
    ) instanceof TransientError,
  );
  assert.ok(
    classifyText('unable to create VM 107: config file already exists', 'm', details) instanceof AlreadyExistsError,
  );
});
