import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type SshHarness, startSshHarness } from './ssh-harness';

let harness: SshHarness;
before(async () => {
  harness = await startSshHarness();
});
after(() => harness.stop());

test('qm list prints the fixed-width table with the template', async () => {
  const { code, stdout } = await harness.node('qm list');
  assert.equal(code, 0);
  const lines = stdout.split('\n');
  assert.equal(lines[0], '      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       ');
  assert.equal(lines[1], '      9000 ubuntu-2204-tmpl     stopped    2048               2.20 0         ');
});

test('qm config prints sorted key: value lines without the digest', async () => {
  const { code, stdout } = await harness.node('qm config 9000');
  assert.equal(code, 0);
  const keys = stdout
    .trimEnd()
    .split('\n')
    .map((line) => line.split(': ')[0]!);
  assert.deepEqual(keys, [...keys].sort());
  assert.ok(!keys.includes('digest'));
  assert.match(stdout, /^scsi0: local-lvm:base-9000-disk-0,size=2252M$/m);
  assert.match(stdout, /^template: 1$/m);
});

test('qm clone runs the task in the foreground and prints its log; the clone is listed', async () => {
  const clone = await harness.node('qm clone 9000 321 --name web-1');
  assert.equal(clone.code, 0, clone.stderr);
  assert.match(clone.stdout, /^create linked clone of drive scsi0 \(local-lvm:base-9000-disk-0\)$/m);
  assert.doesNotMatch(clone.stdout, /TASK OK/);
  const list = await harness.node('qm list');
  assert.match(list.stdout, /^ {7}321 web-1 {16}stopped {4}2048 {15}2\.20 0 {9}$/m);
  const again = await harness.node('qm clone 9000 321 --name web-2');
  assert.equal(again.code, 255);
  assert.match(again.stderr, /321/);
});

test('qm template of a running VM fails with 255; of a stopped one it succeeds', async () => {
  assert.equal((await harness.node('qm clone 9000 322 --name tmpl-2')).code, 0);
  const started = await harness.node('qm start 322');
  assert.equal(started.code, 0, started.stderr);
  const refused = await harness.node('qm template 322');
  assert.equal(refused.code, 255);
  assert.match(refused.stderr, /running/);
  assert.equal((await harness.node('qm stop 322')).code, 0);
  const converted = await harness.node('qm template 322 && qm config 322');
  assert.equal(converted.code, 0, converted.stderr);
  assert.match(converted.stdout, /^template: 1$/m);
});

test('a parameter error prints 400 Parameter verification failed., the field and the usage, exit 255', async () => {
  const result = await harness.node('qm create 99 --cores 2');
  assert.deepEqual(result, {
    code: 255,
    stdout: '',
    stderr:
      '400 Parameter verification failed.\nvmid: value must have a minimum value of 100\nqm create <vmid> [OPTIONS]\n',
  });
  const typed = await harness.node('qm set 9000 --cores many');
  assert.equal(typed.code, 255);
  assert.match(typed.stderr, /^cores: type check \('integer'\) failed - got 'many'$/m);
});

test('an unknown option prints Unknown option and 400 unable to parse option', async () => {
  const result = await harness.node('qm set 9000 --bogus 1');
  assert.equal(result.code, 255);
  assert.equal(result.stderr, 'Unknown option: bogus\n400 unable to parse option\nqm set <vmid> [OPTIONS]\n');
});

test('a missing VM is a bare error message with exit 255', async () => {
  const result = await harness.node('qm status 4242');
  assert.equal(result.code, 255);
  assert.equal(result.stderr, "Configuration file 'nodes/pve01/qemu-server/4242.conf' does not exist\n");
});

test('pvesm status prints KiB columns with a name column one wider than the longest id', async () => {
  const { code, stdout } = await harness.node('pvesm status');
  assert.equal(code, 0);
  const [header, ...rows] = stdout.trimEnd().split('\n');
  assert.equal(header, 'Name             Type     Status           Total            Used       Available        %');
  const lvm = rows.find((row) => row.startsWith('local-lvm '));
  assert.ok(lvm, stdout);
  assert.match(lvm, /^local-lvm {5}lvmthin {5}active {1,}\d+ {1,}\d+ {1,}\d+ {1,}\d+\.\d\d%$/);
  const total = Number(lvm.slice(33, 48));
  assert.equal(total, 512 * 1024 * 1024, 'total of the 512 GiB thin pool in KiB');
});

test('pvesh get /cluster/nextid prints 100, or "100" as JSON', async () => {
  assert.deepEqual(await harness.node('pvesh get /cluster/nextid'), { code: 0, stdout: '100\n', stderr: '' });
  assert.deepEqual(await harness.node('pvesh get /cluster/nextid --output-format json'), {
    code: 0,
    stdout: '"100"\n',
    stderr: '',
  });
  const taken = await harness.node('pvesh get /cluster/nextid --vmid 9000');
  assert.equal(taken.code, 255);
  assert.match(taken.stderr, /^vmid: VM 9000 already exists$/m);
});

test('host commands: wget of a known cloud image lands in the node filesystem, unknown hosts fail', async () => {
  const url = 'https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img';
  const fetched = await harness.node(
    `cd /var/lib/vz/template/iso && wget -q ${url} && test -f jammy-server-cloudimg-amd64.img && ls`,
  );
  assert.deepEqual(fetched, { code: 0, stdout: 'jammy-server-cloudimg-amd64.img\n', stderr: '' });
  const curl = await harness.node(`curl -fsSL -o /tmp/x.img ${url} && sha256sum /tmp/x.img`);
  assert.match(curl.stdout, /^[0-9a-f]{64} {2}\/tmp\/x\.img\n$/);
  const offline = await harness.node('wget https://example.invalid/file.img');
  assert.equal(offline.code, 4);
  assert.equal((await harness.node('nosuchcommand')).stderr, 'sh: 1: nosuchcommand: not found\n');
});

test('/etc/pve/qemu-server shows each VM config as pmxcfs does, following live changes', async () => {
  const listing = await harness.node('ls /etc/pve/qemu-server');
  assert.match(listing.stdout, /^9000\.conf$/m);
  const changed = await harness.node(
    "qm set 9000 --description 'Ubuntu template' && cat /etc/pve/nodes/pve01/qemu-server/9000.conf",
  );
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(changed.stdout, /^#Ubuntu template$/m);
  assert.match(changed.stdout, /^scsi0: local-lvm:base-9000-disk-0,size=2252M$/m);
  assert.equal((await harness.node('test -f /etc/pve/qemu-server/4242.conf')).code, 1);
});
