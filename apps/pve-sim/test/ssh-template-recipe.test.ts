import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import { generateEd25519, sha256Fingerprint } from '../src/ssh/server/keys';
import { connect, exec, pinnedHostKey, type SshHarness, startSshHarness } from './ssh-harness';

let harness: SshHarness;
before(async () => {
  harness = await startSshHarness();
});
after(() => harness.stop());

const image = '/var/lib/vz/template/jammy-server-cloudimg-amd64.img';

/** PVE's documented cloud-image template recipe (Ubuntu 22.04), one command per line. */
const recipe = [
  `wget -q -O ${image} https://cloud-images.ubuntu.com/jammy/current/jammy-server-cloudimg-amd64.img`,
  'qm create 9001 --name ubuntu-2204-recipe --memory 2048 --cores 2 --net0 virtio,bridge=vmbr0 --scsihw virtio-scsi-pci',
  `qm set 9001 --scsi0 local-lvm:0,import-from=${image}`,
  'qm set 9001 --ide2 local-lvm:cloudinit',
  'qm set 9001 --boot order=scsi0',
  'qm set 9001 --serial0 socket --vga serial0',
  'qm set 9001 --agent enabled=1',
  'qm set 9001 --ipconfig0 ip=dhcp',
  'qm template 9001',
];

test('the template recipe runs end to end over SSH and leaves a template config', async () => {
  const outputs: string[] = [];
  for (const line of recipe) {
    const result = await harness.node(line);
    assert.equal(result.code, 0, `${line}\n${result.stderr}`);
    outputs.push(result.stdout);
  }
  assert.match(outputs[2]!, /^scsi0: successfully created disk 'local-lvm:vm-9001-disk-0,size=2252M'$/m);
  assert.match(outputs[3]!, /^ide2: successfully created disk 'local-lvm:vm-9001-cloudinit,media=cdrom'$/m);
  const config = await harness.node('qm config 9001');
  for (const line of [
    'boot: order=scsi0',
    'ide2: local-lvm:vm-9001-cloudinit,media=cdrom',
    'scsi0: local-lvm:base-9001-disk-0,size=2252M',
    'scsihw: virtio-scsi-pci',
    'serial0: socket',
    'vga: serial0',
    'agent: enabled=1',
    'template: 1',
  ]) {
    assert.ok(config.stdout.split('\n').includes(line), `missing "${line}" in\n${config.stdout}`);
  }
});

test('an import-from path that is not on the node fails like qemu-server, exit 255', async () => {
  const result = await harness.node('qm create 9002 --scsi0 local-lvm:0,import-from=/var/lib/vz/template/missing.img');
  assert.deepEqual(result, { code: 255, stdout: '', stderr: "can't find file '/var/lib/vz/template/missing.img'\n" });
});

test('a VM cloned from the new template with ciuser and sshkeys is reachable over SSH', async () => {
  const key = generateEd25519('deployer@test');
  const perVm = [
    'qm clone 9001 150 --name app-150',
    'qm set 150 --sshkeys /root/deployer.pub --ipconfig0 ip=dhcp --ciuser deployer',
    'qm start 150',
  ].join(' && ');
  assert.equal((await harness.node('cat > /root/deployer.pub', `${key.publicKey}\n`)).code, 0);
  const result = await harness.node(perVm);
  assert.equal(result.code, 0, result.stderr);
  const ip = await waitFor('agent of 150', () => harness.sim.guest(150)?.agentUp && harness.sim.guest(150)?.ip);
  const interfaces = await harness.node('qm guest cmd 150 network-get-interfaces');
  assert.equal(interfaces.code, 0, interfaces.stderr);
  assert.ok(interfaces.stdout.includes(`"ip-address" : "${ip}"`), interfaces.stdout);
  await harness.guestUp(150);
  const hostKey = harness.ssh.guests.machine(150)!.hostKey.publicKey;
  const guest = await connect({
    host: ip,
    port: harness.guestPort,
    username: 'deployer',
    privateKey: key.privateKey,
    hostVerifier: pinnedHostKey(sha256Fingerprint(hostKey)),
  });
  try {
    assert.deepEqual(await exec(guest, 'hostname && id -un'), { code: 0, stdout: 'app-150\ndeployer\n', stderr: '' });
  } finally {
    guest.end();
  }
});

test('a guest knows its OS from the image its template was imported from', async () => {
  const key = generateEd25519('ops@test');
  const debianImage = '/var/lib/vz/template/iso/debian-12-genericcloud-amd64.qcow2';
  const build = [
    `wget -q -O ${debianImage} https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2`,
    `qm create 9003 --name base-b --memory 1024 --net0 virtio,bridge=vmbr0 --scsihw virtio-scsi-pci --scsi0 local-lvm:0,import-from=${debianImage}`,
    'qm set 9003 --ide2 local-lvm:cloudinit --boot order=scsi0 --agent enabled=1',
    'qm template 9003',
    'qm clone 9003 160 --name node-160',
    'qm set 160 --ciuser ops --sshkeys /root/ops.pub',
    'qm start 160',
  ];
  assert.equal((await harness.node('cat > /root/ops.pub', `${key.publicKey}\n`)).code, 0);
  const built = await harness.node(build.join(' && '));
  assert.equal(built.code, 0, built.stderr);
  const ip = await harness.guestUp(160);
  const guest = await connect({
    host: ip,
    port: harness.guestPort,
    username: 'ops',
    privateKey: key.privateKey,
    hostVerifier: pinnedHostKey(sha256Fingerprint(harness.ssh.guests.machine(160)!.hostKey.publicKey)),
  });
  try {
    const release = await exec(guest, 'cat /etc/os-release');
    assert.match(release.stdout, /^ID=debian$/m);
    assert.match(release.stdout, /^VERSION_ID="12"$/m);
  } finally {
    guest.end();
  }
});
