import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolveCatalogTemplate } from '../catalog';
import { parseLabSpec } from '../spec/parse';
import { applyLabParameters, describeLabParameters, traineeKeysOf } from './parameters';
import { snapshotName, userSnapshotName } from './snapshots';
import { withEgressOverride } from './testing-mode';

function sshKey(comment: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gd-param-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', join(dir, 'k')]);
  try {
    return readFileSync(join(dir, 'k.pub'), 'utf8').trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const pentest = resolveCatalogTemplate('web-pentest-101')!;

test('parameters set copies, ttl, name and sizes, and the trainee keys land on the declared VMs of each copy', () => {
  const everyone = sshKey('class');
  const [first, second] = [sshKey('student-1'), sshKey('student-2')];
  const applied = applyLabParameters(
    pentest.spec,
    {
      name: 'monday',
      copies: 2,
      ttl: '3h',
      traineeKeys: [everyone],
      copyKeys: [first, second],
      vms: { target: { memoryMiB: 3072 } },
    },
    pentest.parameters,
  );
  assert.ok(applied.ok, JSON.stringify(!applied.ok && applied.issues));
  const parsed = parseLabSpec(applied.spec);
  assert.ok(parsed.ok);
  assert.equal(parsed.spec.name, 'monday');
  assert.equal(parsed.spec.copies, 2);
  assert.equal(parsed.spec.ttlSeconds, 3 * 3600);
  assert.equal(parsed.spec.vms.find((vm) => vm.name === 'target')?.memoryMiB, 3072);
  assert.deepEqual(traineeKeysOf(applied.trainee, 0, 'attacker'), [everyone, first]);
  assert.deepEqual(traineeKeysOf(applied.trainee, 1, 'attacker'), [everyone, second]);
  assert.deepEqual(traineeKeysOf(applied.trainee, 0, 'target'), [], 'the target is not a trainee VM');
});

test('bad parameters are refused naming the parameter', () => {
  const cases: [unknown, string, RegExp][] = [
    [{ vms: { nope: { cpus: 2 } } }, 'parameters.vms.nope', /not a VM of this lab/],
    [{ vms: { attacker: { memoryMiB: 512 } } }, 'parameters.vms.attacker.memoryMiB', /between 2048 and/],
    [{ vms: { target: { cpus: 1000 } } }, 'parameters.vms.target.cpus', /between 1 and 16/],
    [{ copies: 2, copyKeys: [sshKey('only-one')] }, 'parameters.copyKeys', /one per copy/],
    [{ ttl: 'forever' }, 'parameters.ttl', /minutes, hours or days/],
    [{ traineeKeys: ['not a key'] }, 'parameters.traineeKeys.0', /OpenSSH public key/],
    [{ colour: 'blue' }, 'parameters.colour', /unknown key/],
  ];
  for (const [input, path, message] of cases) {
    const applied = applyLabParameters(pentest.spec, input, pentest.parameters);
    assert.ok(!applied.ok, path);
    const issue = applied.issues.find((i) => i.path.join('.') === path);
    assert.ok(issue, `${path}: ${JSON.stringify(applied.issues)}`);
    assert.match(issue.message, message);
  }
});

test('the parameter description shows defaults and bounds from the profile and the quotas', () => {
  const described = describeLabParameters(pentest.spec, pentest.parameters ?? {}, {
    maxCopies: 40,
    maxTtlSeconds: 86400,
  });
  assert.equal(described.copies.max, 40);
  assert.equal(described.ttl.max, '1d');
  assert.deepEqual(described.traineeKeys.vms, ['attacker']);
  assert.deepEqual(described.vms.attacker?.memoryMiB, { default: 4096, min: 2048, max: 65536 });
});

test('snapshot names follow Proxmox and keep Glassdome’s own names for itself', () => {
  assert.ok(snapshotName.safeParse('before-exploit').success);
  assert.ok(snapshotName.safeParse('initial').success);
  assert.ok(!userSnapshotName.safeParse('initial').success);
  assert.ok(!userSnapshotName.safeParse('gd-testing-abc').success);
  for (const bad of ['1abc', 'current', 'has space', 'x', 'a'.repeat(41)])
    assert.ok(!snapshotName.safeParse(bad).success, bad);
});

test('testing mode widens egress on the chosen networks only', () => {
  const parsed = parseLabSpec({
    name: 'two-nets',
    networks: [
      { name: 'a', cidr: '10.1.0.0/24' },
      { name: 'b', cidr: '10.2.0.0/24' },
    ],
    vms: [{ name: 'x', os: 'ubuntu-22.04', networks: ['a', 'b'] }],
  });
  assert.ok(parsed.ok);
  const wider = withEgressOverride(parsed.spec, ['203.0.113.5:443'], ['a']);
  assert.deepEqual(
    wider.networks.map((n) => n.egress),
    [['203.0.113.5:443'], 'deny'],
  );
  assert.throws(() => withEgressOverride(parsed.spec, 'allow', ['c']), /not networks of this lab: c/);
});
