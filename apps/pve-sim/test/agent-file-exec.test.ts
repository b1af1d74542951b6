/**
 * The guest agent's exec and file calls act inside the same simulated guest its SSH serves: what
 * one writes the other reads, and the host key file is the key the guest's SSH server presents.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '@glassdome/logger';
import { freePort, waitFor } from '@glassdome/testkit';
import { Client } from 'ssh2';
import { sshExtension } from '../src/ssh/extension';
import { generateEd25519 } from '../src/ssh/server/keys';
import { cloneTemplate, startTestSim, type TestSim } from './helpers';
import { connect, exec } from './ssh-harness';

let sim: TestSim;
let guestPort: number;
const alice = generateEd25519('alice@test');
const vm = '/nodes/pve01/qemu/501';

before(async () => {
  guestPort = await freePort();
  const logger = createLogger({ name: 'agent-file-exec-test', level: 'silent', format: 'json' });
  sim = await startTestSim({ sshPort: 0, guestSshPort: guestPort, extensions: [sshExtension({ logger })] });
  assert.equal(await cloneTemplate(sim, 501), 'OK');
  const set = await sim.api('PUT', `${vm}/config`, {
    ciuser: 'alice',
    sshkeys: encodeURIComponent(`${alice.publicKey}\n`),
  });
  assert.equal(set.status, 200, set.statusText);
});
after(() => sim.stop());

type Data = Record<string, unknown>;
const data = (answer: { body?: { data?: unknown } }) => answer.body?.data as Data;

/** Runs a command through the agent and polls exec-status until it has exited. */
async function agentExec(command: string[], input?: string): Promise<Data> {
  const params: Record<string, string> = {};
  const body = new URLSearchParams();
  for (const part of command) body.append('command', part);
  if (input !== undefined) body.append('input-data', input);
  const res = await fetch(`${sim.running.apiUrl}/api2/json${vm}/agent/exec`, {
    method: 'POST',
    headers: { Authorization: sim.tokenAuth, 'Content-Type': 'application/x-www-form-urlencoded' },
    body,
  });
  assert.equal(res.status, 200, res.statusText);
  const { pid } = ((await res.json()) as { data: { pid: number } }).data;
  assert.equal(typeof pid, 'number');
  params.pid = String(pid);
  return waitFor(`exec ${command.join(' ')}`, async () => {
    const status = data(await sim.api('GET', `${vm}/agent/exec-status`, params));
    return status.exited === 1 ? status : undefined;
  });
}

test('before the VM runs the agent calls fail as PVE answers them', async () => {
  const stopped = await sim.api('POST', `${vm}/agent/exec`, { command: 'true' });
  assert.equal(stopped.status, 500);
  assert.equal(stopped.statusText, 'VM 501 is not running');
  const start = await sim.api('POST', `${vm}/status/start`);
  assert.equal(await sim.waitTask(start.body?.data), 'OK');
  await waitFor('agent up', async () => (await sim.api('POST', `${vm}/agent/ping`)).status === 200);
});

test('exec runs argv in the guest: exit code, stdout, stderr, and stdin from input-data', async () => {
  const status = await agentExec(['/bin/sh', '-c', 'echo hello; echo oops >&2; exit 3']);
  assert.deepEqual(status, { exited: 1, exitcode: 3, 'out-data': 'hello\n', 'err-data': 'oops\n' });
  const quiet = await agentExec(['true']);
  assert.deepEqual(quiet, { exited: 1, exitcode: 0 }, 'no out-data or err-data when there was no output');
  const whoami = await agentExec(['sh', '-c', 'id -un; pwd']);
  assert.equal(whoami['out-data'], 'root\n/\n', 'qemu-ga runs commands as root in /');
  const tee = await agentExec(['tee', '/root/from-agent.txt'], 'typed on stdin\n');
  assert.equal(tee['out-data'], 'typed on stdin\n');
  const read = data(await sim.api('GET', `${vm}/agent/file-read`, { file: '/root/from-agent.txt' }));
  assert.deepEqual(read, { content: 'typed on stdin\n', 'bytes-read': 15 });
});

test('an exited process is reported once; unknown programs and pids are agent errors', async () => {
  const started = data(await sim.api('POST', `${vm}/agent/exec`, { command: 'true' }));
  await waitFor(
    'exited',
    async () => data(await sim.api('GET', `${vm}/agent/exec-status`, { pid: String(started.pid) })).exited === 1,
  );
  const gone = await sim.api('GET', `${vm}/agent/exec-status`, { pid: String(started.pid) });
  assert.equal(gone.status, 500);
  assert.equal(gone.statusText, "Agent error: Invalid parameter 'pid'");
  const missing = await sim.api('POST', `${vm}/agent/exec`, { command: 'nosuchtool' });
  assert.equal(missing.status, 500);
  assert.equal(
    missing.body?.message,
    'Agent error: Failed to execute child process \u201cnosuchtool\u201d (No such file or directory)\n',
  );
  const noCommand = await sim.api('POST', `${vm}/agent/exec`, { 'input-data': 'x' });
  assert.deepEqual(noCommand.body?.errors, { command: 'property is missing and it is not optional' });
});

test('file-write and file-read share the filesystem the guest SSH session sees', async () => {
  const written = await sim.api('POST', `${vm}/agent/file-write`, { file: '/etc/motd', content: 'Welcome, trainee\n' });
  assert.equal(written.status, 200);
  assert.equal(written.body?.data, null);
  const encoded = await sim.api('POST', `${vm}/agent/file-write`, {
    file: '/tmp/raw.bin',
    content: Buffer.from('pre-encoded').toString('base64'),
    encode: '0',
  });
  assert.equal(encoded.status, 200);
  const noDir = await sim.api('POST', `${vm}/agent/file-write`, { file: '/no/such/dir/f', content: 'x' });
  assert.equal(
    noDir.statusText,
    "Agent error: failed to open file '/no/such/dir/f' (mode: 'wb'): No such file or directory",
  );
  const noFile = await sim.api('GET', `${vm}/agent/file-read`, { file: '/etc/nope' });
  assert.equal(
    noFile.statusText,
    "Agent error: failed to open file '/etc/nope' (mode: 'r'): No such file or directory",
  );

  const ip = sim.running.sim.guest(501)!.ip!;
  const client = await connect({ host: ip, port: guestPort, username: 'alice', privateKey: alice.privateKey });
  try {
    assert.deepEqual(await exec(client, 'cat /etc/motd /tmp/raw.bin'), {
      code: 0,
      stdout: 'Welcome, trainee\npre-encoded',
      stderr: '',
    });
    assert.equal((await exec(client, 'echo from-ssh > /tmp/ssh.txt')).code, 0);
  } finally {
    client.end();
  }
  const fromSsh = data(await sim.api('GET', `${vm}/agent/file-read`, { file: '/tmp/ssh.txt' }));
  assert.equal(fromSsh.content, 'from-ssh\n');
  const listing = await agentExec(['ls', '-l', '/etc/motd']);
  assert.match(String(listing['out-data']), /^-rw------- /, 'qemu-ga creates files 0600');
});

test("the host key file read through the agent is the key the guest's SSH server presents", async () => {
  const file = data(await sim.api('GET', `${vm}/agent/file-read`, { file: '/etc/ssh/ssh_host_ed25519_key.pub' }));
  const [type, blob] = String(file.content).trim().split(/\s+/);
  assert.equal(type, 'ssh-ed25519');
  const ip = sim.running.sim.guest(501)!.ip!;
  const presented = await new Promise<Buffer>((resolve, reject) => {
    const client = new Client();
    client.on('error', () => undefined);
    client.connect({
      host: ip,
      port: guestPort,
      username: 'alice',
      privateKey: alice.privateKey,
      hostVerifier: (key: Buffer) => {
        resolve(key);
        return false;
      },
    });
    setTimeout(() => reject(new Error('no host key seen')), 10_000).unref();
  });
  assert.equal(presented.toString('base64'), blob);
});

test('the agent index lists its commands and, as in qemu-server, takes any extra parameter', async () => {
  const index = await sim.api('GET', `${vm}/agent`, { whatever: '1' });
  assert.equal(index.status, 200);
  const names = (index.body!.data as Array<{ name: string }>).map((item) => item.name);
  for (const name of ['exec', 'exec-status', 'file-read', 'file-write', 'network-get-interfaces', 'ping']) {
    assert.ok(names.includes(name), name);
  }
  assert.deepEqual(names, [...names].sort());
});
