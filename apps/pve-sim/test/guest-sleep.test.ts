// `sleep` on a guest and on the node over SSH: it takes its nominal time scaled by the simulator's
// time scale (0.01 here), refuses a bad operand as GNU sleep does, and a killed command (a channel
// signal, or its channel closed) ends at once, running nothing after its sleep.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { waitFor } from '@glassdome/testkit';
import type { Client, ClientChannel } from 'ssh2';
import type { GuestEffect } from '../src/ssh';
import { generateEd25519, sha256Fingerprint } from '../src/ssh/server/keys';
import { connect, exec, pinnedHostKey, type SshHarness, startSshHarness } from './ssh-harness';

let harness: SshHarness;
let guest: Client;
const key = generateEd25519('sleeper@test');
const VMID = 171;

before(async () => {
  harness = await startSshHarness();
  const pub = await harness.node('cat > /root/sleeper.pub', `${key.publicKey}\n`);
  assert.equal(pub.code, 0, pub.stderr);
  const boot = await harness.node(
    `qm clone 9000 ${VMID} --name sleeper && qm set ${VMID} --ciuser ubuntu --sshkeys /root/sleeper.pub && qm start ${VMID}`,
  );
  assert.equal(boot.code, 0, boot.stderr);
  const ip = await harness.guestUp(VMID);
  guest = await connect({
    host: ip,
    port: harness.guestPort,
    username: 'ubuntu',
    privateKey: key.privateKey,
    hostVerifier: pinnedHostKey(sha256Fingerprint(harness.ssh.guests.machine(VMID)!.hostKey.publicKey)),
  });
});

after(async () => {
  guest?.end();
  await harness.stop();
});

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started };
}

/** The command lines the guest recorded as run, with their statuses. */
function commandsRun(): Array<{ command: string; exitCode: number }> {
  return ((harness.sim.state.guestEffects[VMID] ?? []) as GuestEffect[]).flatMap((effect) =>
    effect.kind === 'command' ? [{ command: effect.command, exitCode: effect.exitCode }] : [],
  );
}

/** Starts a command on the guest and hands back its channel once the server has it. */
function start(command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) =>
    guest.exec(command, (error, channel) => {
      if (error) return reject(error);
      channel.resume();
      channel.stderr.resume();
      resolve(channel);
    }),
  );
}

test('a guest sleep takes its nominal time scaled: 20 s and 0.25m at scale 0.01 are 200 ms and 150 ms', async () => {
  const plain = await timed(() => exec(guest, 'sleep 20 && echo woke'));
  assert.deepEqual(plain.result, { code: 0, stdout: 'woke\n', stderr: '' });
  assert.ok(plain.ms >= 195 && plain.ms < 2_000, `sleep 20 took ${plain.ms} ms`);
  const summed = await timed(() => exec(guest, 'sleep 0.25m 0'));
  assert.equal(summed.result.code, 0, summed.result.stderr);
  assert.ok(summed.ms >= 145 && summed.ms < 2_000, `sleep 0.25m took ${summed.ms} ms`);
});

test("the node's sleep is scaled too (the SSH layer's kill runs `sleep 1` there)", async () => {
  const { result, ms } = await timed(() => harness.node('sleep 1; sleep 9; echo done'));
  assert.deepEqual(result, { code: 0, stdout: 'done\n', stderr: '' });
  assert.ok(ms >= 95 && ms < 2_000, `sleep 1; sleep 9 took ${ms} ms`);
});

test('a bad operand is refused at once with GNU sleep’s words and status 1', async () => {
  const { result, ms } = await timed(() => exec(guest, 'sleep 10 soon; echo status $?'));
  assert.deepEqual(result, {
    code: 0,
    stdout: 'status 1\n',
    stderr: "sleep: invalid time interval 'soon'\nTry 'sleep --help' for more information.\n",
  });
  assert.ok(ms < 90, `the refused sleep took ${ms} ms`);
  assert.equal(
    (await exec(guest, 'sleep')).stderr,
    "sleep: missing operand\nTry 'sleep --help' for more information.\n",
  );
});

test('a channel signal kills a sleeping command: it exits by that signal and runs nothing after', async () => {
  const command = 'sleep infinity; touch /tmp/after-signal';
  const channel = await start(command);
  const ended = new Promise<{ code: number | null; signal?: string }>((resolve) =>
    channel.on('exit', (code: number | null, signal?: string) => resolve({ code, signal })),
  );
  const closed = new Promise((resolve) => channel.on('close', resolve));
  await new Promise((resolve) => setTimeout(resolve, 50));
  channel.signal('TERM');
  const { result, ms } = await timed(() => ended);
  await closed;
  assert.equal(result.signal, 'SIGTERM');
  assert.ok(ms < 1_000, `the killed command took ${ms} ms to end`);
  assert.equal(harness.ssh.guests.machine(VMID)!.fs.stat('/tmp/after-signal'), undefined);
  assert.deepEqual(commandsRun().at(-1), { command, exitCode: 143 });
});

/** What a command's channel carried and how it ended: its output, and its status or signal. */
function outcome(channel: ClientChannel): Promise<{ stdout: string; code: number | null; signal?: string }> {
  let stdout = '';
  let exit: { code: number | null; signal?: string } = { code: null };
  channel.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  channel.on('exit', (code: number | null, signal?: string) => (exit = signal ? { code, signal } : { code }));
  return new Promise((resolve) => channel.on('close', () => resolve({ stdout, ...exit })));
}

test('a signal RFC 4254 lists but OpenSSH does not know (SEGV, ABRT, PIPE) is refused: the command runs to its end', async () => {
  const channel = await start('sleep 20; echo done');
  const ended = outcome(channel);
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const name of ['SEGV', 'ABRT', 'PIPE']) channel.signal(name);
  const { result, ms } = await timed(() => ended);
  assert.deepEqual(result, { stdout: 'done\n', code: 0 });
  assert.ok(ms >= 100, `the signalled command ended after ${ms} ms`);
});

test('a signal sent before the command starts is refused: the command then runs to its end', async () => {
  // ssh2 sends exec right after the channel opens; the signal goes just ahead of it on that channel.
  const protocol = (
    guest as unknown as { _protocol: { exec(...args: unknown[]): void; signal(id: number, name: string): void } }
  )._protocol;
  const send = protocol.exec;
  protocol.exec = function (this: unknown, id: number, ...rest: unknown[]) {
    protocol.signal(id, 'KILL');
    return send.call(this, id, ...rest);
  } as typeof protocol.exec;
  let channel: ClientChannel;
  try {
    channel = await start('sleep 5; echo done');
  } finally {
    protocol.exec = send;
  }
  assert.deepEqual(await outcome(channel), { stdout: 'done\n', code: 0 });
});

test('a signal ends an interactive session by that signal (exit-signal), the line it ran too', async () => {
  const channel = await new Promise<ClientChannel>((resolve, reject) =>
    guest.shell((error, opened) => (error ? reject(error) : resolve(opened))),
  );
  const ended = outcome(channel);
  channel.write('sleep 1000; touch /tmp/after-hangup\n');
  await new Promise((resolve) => setTimeout(resolve, 100));
  channel.signal('HUP');
  const { result, ms } = await timed(() => ended);
  assert.equal(result.code, null);
  assert.equal(result.signal, 'SIGHUP');
  assert.ok(ms < 1_000, `the killed session took ${ms} ms to end`);
  assert.deepEqual(commandsRun().at(-1), { command: 'sleep 1000; touch /tmp/after-hangup', exitCode: 129 });
  assert.equal(harness.ssh.guests.machine(VMID)!.fs.stat('/tmp/after-hangup'), undefined);
});

test('closing the channel ends its sleeping command (no timer left running for it)', async () => {
  // 1,000 s at scale 0.01 is 10 s: the command must end long before that, when its channel closes.
  const command = 'sleep 1000; touch /tmp/after-close';
  const channel = await start(command);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = performance.now();
  channel.close();
  await waitFor('the closed command to end', () => commandsRun().at(-1)?.command === command, { timeoutMs: 2_000 });
  assert.ok(performance.now() - started < 1_000);
  assert.deepEqual(commandsRun().at(-1), { command, exitCode: 137 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(harness.ssh.guests.machine(VMID)!.fs.stat('/tmp/after-close'), undefined);
});

test('on the node (root) a channel signal is refused, as OpenSSH refuses it for root: the command goes on', async () => {
  const root = await connect({
    host: '127.0.0.1',
    port: harness.ssh.node.port,
    username: 'root',
    privateKey: harness.ssh.node.privateKey!,
    hostVerifier: pinnedHostKey(harness.ssh.node.hostKeyFingerprint),
  });
  try {
    const { result, ms } = await timed(
      () =>
        new Promise<{ stdout: string; code: number | null; signal?: string }>((resolve, reject) =>
          root.exec('sleep 20; echo done', (error, channel) => {
            if (error) return reject(error);
            let stdout = '';
            let exit: { code: number | null; signal?: string } = { code: null };
            channel.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
            channel.stderr.resume();
            channel.on('exit', (code: number | null, signal?: string) => (exit = { code, signal }));
            channel.on('close', () => resolve({ stdout, ...exit }));
            setTimeout(() => channel.signal('TERM'), 50);
          }),
        ),
    );
    assert.deepEqual(result, { stdout: 'done\n', code: 0, signal: undefined });
    assert.ok(ms >= 195, `the signalled root command ended after ${ms} ms`);
  } finally {
    root.end();
  }
});
