/**
 * `pve-firewall status` and node-to-node `ssh` on the node's shell, over real SSH. The update
 * loop is slowed to never so that only the test compiles (compileNow, a service restart).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type SshHarness, startSshHarness } from './ssh-harness';

let harness: SshHarness;
before(async () => {
  harness = await startSshHarness({ nodes: ['pve01', 'pve02'], latencies: { firewallUpdate: 1e9 } });
});
after(() => harness.stop());

const compile = () => harness.sim.firewall.compileNow();

/** ssh to a node as PVE's own tools do (SSHInfo.pm): its pinned key file, under its name. */
const hop = (node: string) =>
  `ssh -o BatchMode=yes -o HostKeyAlias=${node} -o UserKnownHostsFile=/etc/pve/nodes/${node}/ssh_known_hosts -o GlobalKnownHostsFile=none`;

async function status(node: 'pve01' | 'pve02'): Promise<string> {
  const command = node === 'pve01' ? 'pve-firewall status' : `${hop('pve02')} root@pve02 pve-firewall status`;
  const result = await harness.node(command);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  return result.stdout;
}

test('pve-firewall status on a fresh cluster: disabled, running, one line, exit 0', async () => {
  assert.deepEqual(await harness.node('pve-firewall status'), {
    code: 0,
    stdout: 'Status: disabled/running\n',
    stderr: '',
  });
});

test('ssh to another node runs the command on that node and passes its output and status back', async () => {
  assert.deepEqual(await harness.node(`${hop('pve02')} -T -q -n -e none root@pve02 hostname`), {
    code: 0,
    stdout: 'pve02\n',
    stderr: '',
  });
  assert.equal((await harness.node(`${hop('pve01')} pve01 hostname`)).stdout, 'pve01\n');
  // What PVE's own tools run: the node's cluster address (as /cluster/status lists it) with HostKeyAlias.
  const byAddress = await harness.node(`${hop('pve02')} -e none root@192.168.100.11 hostname`);
  assert.deepEqual(byAddress, { code: 0, stdout: 'pve02\n', stderr: '' });
  const failed = await harness.node(`${hop('pve02')} pve02 'echo out; echo err >&2; exit 3'`);
  assert.deepEqual(failed, { code: 3, stdout: 'out\n', stderr: 'err\n' });
  assert.equal((await harness.node(`echo piped | ${hop('pve02')} pve02 cat`)).stdout, 'piped\n');
});

test('each node has its own filesystem, kept between connections', async () => {
  assert.equal((await harness.node('echo here > /tmp/mark')).code, 0);
  const missing = await harness.node(`${hop('pve02')} pve02 cat /tmp/mark`);
  assert.notEqual(missing.code, 0);
  assert.equal((await harness.node(`${hop('pve02')} pve02 "echo there > /tmp/mark"`)).code, 0);
  assert.equal((await harness.node(`${hop('pve02')} pve02 cat /tmp/mark`)).stdout, 'there\n');
  assert.equal((await harness.node('cat /tmp/mark')).stdout, 'here\n');
});

test('ssh fails like OpenSSH for unknown hosts, other users, other ports and bad options (exit 255)', async () => {
  assert.deepEqual(await harness.node('ssh root@pve09 hostname'), {
    code: 255,
    stdout: '',
    stderr: 'ssh: Could not resolve hostname pve09: Name or service not known\n',
  });
  assert.deepEqual(await harness.node(`${hop('pve02')} admin@pve02 true`), {
    code: 255,
    stdout: '',
    stderr: 'admin@pve02: Permission denied (publickey,password).\n',
  });
  assert.deepEqual(await harness.node('ssh -q pve09 true'), { code: 255, stdout: '', stderr: '' }, '-q silences it');
  assert.deepEqual(await harness.node('ssh 10.9.9.9 true'), {
    code: 255,
    stdout: '',
    stderr: 'ssh: connect to host 10.9.9.9 port 22: No route to host\n',
  });
  const port = await harness.node('ssh -p 2222 pve02 true');
  assert.equal(port.stderr, 'ssh: connect to host pve02 port 2222: Connection refused\n');
  const option = await harness.node('ssh -o Bogus=1 pve02 true');
  assert.deepEqual(option, {
    code: 255,
    stdout: '',
    stderr: 'command-line: line 0: Bad configuration option: bogus\n',
  });
  const usage = await harness.node('ssh');
  assert.equal(usage.code, 255);
  assert.match(usage.stderr, /^usage: ssh \[-46AaCfGgKkMNnqsTtVvXxYy\]/);
});

test('status: pending changes right after a change, on the nodes it concerns, until the next compile', async () => {
  const setup = await harness.node(
    [
      'qm create 101 --name near --net0 virtio,bridge=vmbr0,firewall=1',
      'pvesh set /nodes/pve01/qemu/101/firewall/options --enable 1',
      `${hop('pve02')} pve02 qm create 201 --name far --net0 virtio,bridge=vmbr0,firewall=1`,
      'pvesh set /nodes/pve02/qemu/201/firewall/options --enable 1',
      'pvesh set /cluster/firewall/options --enable 1',
    ].join(' && '),
  );
  assert.equal(setup.code, 0, setup.stderr);
  assert.equal(await status('pve01'), 'Status: enabled/running (pending changes)\n');
  assert.equal(await status('pve02'), 'Status: enabled/running (pending changes)\n');
  compile();
  assert.equal(await status('pve01'), 'Status: enabled/running\n');
  assert.equal(await status('pve02'), 'Status: enabled/running\n');

  const rule = await harness.node(
    'pvesh create /nodes/pve01/qemu/101/firewall/rules --type in --action DROP --proto tcp --dport 22 --enable 1',
  );
  assert.equal(rule.code, 0, rule.stderr);
  assert.equal(await status('pve01'), 'Status: enabled/running (pending changes)\n');
  assert.equal(await status('pve02'), 'Status: enabled/running\n', 'VM 101 is not on pve02');
  compile();
  assert.equal(await status('pve01'), 'Status: enabled/running\n');

  const ipset = await harness.node(
    'pvesh create /cluster/firewall/ipset --name lab && pvesh create /cluster/firewall/ipset/lab --cidr 10.1.0.0/24',
  );
  assert.equal(ipset.code, 0, ipset.stderr);
  assert.equal(await status('pve01'), 'Status: enabled/running (pending changes)\n');
  assert.equal(await status('pve02'), 'Status: enabled/running (pending changes)\n');
  compile();
  assert.equal(await status('pve01'), 'Status: enabled/running\n');
  assert.equal(await status('pve02'), 'Status: enabled/running\n');
});

test('status of a stopped service: no pending computation; starting it compiles', async () => {
  const stop = await harness.node('pvesh create /nodes/pve02/services/pve-firewall/stop');
  assert.equal(stop.code, 0, stop.stderr);
  const rule = await harness.node(
    `${hop('pve02')} pve02 pvesh create /nodes/pve02/qemu/201/firewall/rules --type in --action DROP --enable 1`,
  );
  assert.equal(rule.code, 0, rule.stderr);
  assert.equal(await status('pve02'), 'Status: enabled/stopped\n');
  assert.equal(await status('pve01'), 'Status: enabled/running\n');
  assert.equal(
    (await harness.node(`${hop('pve02')} pve02 pvesh create /nodes/pve02/services/pve-firewall/start`)).code,
    0,
  );
  assert.equal(await status('pve02'), 'Status: enabled/running\n');
});

test('pve-firewall rejects extra arguments and unknown sub-commands with a usage, exit 255', async () => {
  assert.deepEqual(await harness.node('pve-firewall status now'), {
    code: 255,
    stdout: '',
    stderr: '400 too many arguments\npve-firewall status\n',
  });
  const unknown = await harness.node('pve-firewall frobnicate');
  assert.equal(unknown.code, 255);
  assert.match(
    unknown.stderr,
    /^ERROR: unknown command 'pve-firewall frobnicate'\nUSAGE: pve-firewall <COMMAND> \[ARGS\] \[OPTIONS\]\n/,
  );
});

test("every node holds each node's pinned host key, as pmxcfs shows it", async () => {
  const pve02Key = harness.sim.state.nodes.pve02!.sshHostKey!.publicKey.split(' ').slice(0, 2).join(' ');
  const here = await harness.node('cat /etc/pve/nodes/pve02/ssh_known_hosts');
  assert.deepEqual(here, { code: 0, stdout: `pve02 ${pve02Key}`, stderr: '' });
  const there = await harness.node(`${hop('pve02')} pve02 cat /etc/pve/nodes/pve02/ssh_known_hosts`);
  assert.equal(there.stdout, here.stdout);
  const own = await harness.node('cat /etc/pve/nodes/pve01/ssh_known_hosts');
  assert.equal(own.stdout, `pve01 ${harness.ssh.node.hostPublicKey}`, 'the key the node SSH server presents');
});

test('ssh without the pinned key file fails host key verification like OpenSSH (exit 255)', async () => {
  const failed = { code: 255, stdout: '', stderr: 'Host key verification failed.\n' };
  assert.deepEqual(await harness.node('ssh -o BatchMode=yes root@pve02 hostname'), failed);
  assert.deepEqual(await harness.node('ssh pve02 hostname'), failed, 'no terminal to ask on');
  assert.deepEqual(await harness.node('ssh -o BatchMode=yes -o HostKeyAlias=pve02 root@192.168.100.11 true'), failed);
  assert.deepEqual(
    await harness.node('ssh -o StrictHostKeyChecking=yes -o HostKeyAlias=pve02 root@192.168.100.11 true'),
    {
      code: 255,
      stdout: '',
      stderr:
        'No ED25519 host key is known for pve02 and you have requested strict checking.\nHost key verification failed.\n',
    },
  );
  // The cluster-wide file no longer lists the nodes (pve-cluster 8.0.6 on).
  const cluster = `ssh -o BatchMode=yes -o HostKeyAlias=pve02 -o 'UserKnownHostsFile=/etc/pve/priv/known_hosts' pve02 true`;
  assert.deepEqual(await harness.node(cluster), failed);
  assert.deepEqual(await harness.node('ssh -q -o BatchMode=yes pve02 true'), { code: 255, stdout: '', stderr: '' });
});

test('ssh with the pinned key file, as the gateway runs it, reaches the node', async () => {
  const command =
    "ssh -o BatchMode=yes -o ConnectTimeout=3 -o HostKeyAlias=pve02 -o 'UserKnownHostsFile=/etc/pve/nodes/pve02/ssh_known_hosts /etc/pve/priv/known_hosts' root@192.168.100.11 hostname";
  assert.deepEqual(await harness.node(command), { code: 0, stdout: 'pve02\n', stderr: '' });
  // A file added to ~/.ssh/known_hosts counts as well (the default user file).
  const copied = await harness.node(
    'mkdir -p /root/.ssh && cp /etc/pve/nodes/pve02/ssh_known_hosts /root/.ssh/known_hosts && ssh -o BatchMode=yes pve02 hostname; rm /root/.ssh/known_hosts',
  );
  assert.deepEqual(copied, { code: 0, stdout: 'pve02\n', stderr: '' });
  const accept = await harness.node(
    'ssh -o StrictHostKeyChecking=accept-new pve02 hostname; ssh -o BatchMode=yes pve02 hostname',
  );
  assert.deepEqual(accept, {
    code: 0,
    stdout: 'pve02\npve02\n',
    stderr: "Warning: Permanently added 'pve02' (ED25519) to the list of known hosts.\n",
  });
  assert.equal((await harness.node('rm /root/.ssh/known_hosts')).code, 0);
});

test("ssh under a wrong HostKeyAlias fails: unknown name, or another node's key", async () => {
  const unknown = await harness.node(
    'ssh -o BatchMode=yes -o HostKeyAlias=pve01 -o UserKnownHostsFile=/etc/pve/nodes/pve02/ssh_known_hosts root@192.168.100.11 true',
  );
  assert.deepEqual(unknown, { code: 255, stdout: '', stderr: 'Host key verification failed.\n' });
  const changed = await harness.node(
    'ssh -o BatchMode=yes -o HostKeyAlias=pve01 -o UserKnownHostsFile=/etc/pve/nodes/pve01/ssh_known_hosts root@192.168.100.11 true',
  );
  assert.equal(changed.code, 255);
  assert.equal(changed.stdout, '');
  const lines = changed.stderr.split('\n');
  assert.equal(lines[1], '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @');
  assert.ok(lines.includes('Offending ED25519 key in /etc/pve/nodes/pve01/ssh_known_hosts:1'), changed.stderr);
  assert.match(
    changed.stderr,
    /\nHost key for pve01 has changed and you have requested strict checking\.\nHost key verification failed\.\n$/,
  );
});

test('an offline node is unreachable: no route to host, or a timeout with ConnectTimeout', async () => {
  harness.sim.faults.update({ nodeOffline: 'pve02' });
  try {
    assert.deepEqual(await harness.node(`${hop('pve02')} root@192.168.100.11 true`), {
      code: 255,
      stdout: '',
      stderr: 'ssh: connect to host 192.168.100.11 port 22: No route to host\n',
    });
    assert.deepEqual(await harness.node(`${hop('pve02')} -o ConnectTimeout=3 pve02 true`), {
      code: 255,
      stdout: '',
      stderr: 'ssh: connect to host pve02 port 22: Connection timed out\n',
    });
  } finally {
    harness.sim.faults.update({ nodeOffline: null });
  }
});
