import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Principal } from './auth/keys';
import { redactorFor } from './redact';

const spec = {
  cloudInit: { runcmd: ['systemctl enable --now nginx'] },
  provision: [
    { run: "echo 'S3cret-pw' | chpasswd" },
    { file: { path: '/etc/app.conf', content: 'token=abc123xyz\n' } },
  ],
};
const creator: Principal = { keyId: 'k1', name: 'op', role: 'operator', project: 'p' };
const viewer: Principal = { keyId: 'k2', name: 'v', role: 'viewer', project: 'p' };
const admin: Principal = { keyId: 'k3', name: 'a', role: 'admin', project: 'default' };

test('provisioning commands, their words and file contents are masked for readers other than the creator and admins', () => {
  const message =
    "post-configure failed: echo 'S3cret-pw' | chpasswd exited 1: chpasswd: S3cret-pw: bad; token=abc123xyz";
  const masked = redactorFor(viewer, 'k1', spec).text(message);
  assert.ok(!masked.includes('S3cret-pw'), masked);
  assert.ok(!masked.includes('abc123xyz'), masked);
  assert.match(masked, /\[provisioning text hidden\]/);
  assert.equal(redactorFor(creator, 'k1', spec).text(message), message);
  assert.equal(redactorFor(admin, 'k1', spec).text(message), message);
  assert.deepEqual(redactorFor(viewer, 'k1', { vms: [spec] }).json({ nested: [{ stderr: 'S3cret-pw' }] }), {
    nested: [{ stderr: '[provisioning text hidden]' }],
  });
});
