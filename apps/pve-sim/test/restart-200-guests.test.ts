/**
 * `pnpm sim` with a state file of 200 running guests, stopped (SIGTERM) and started 20 times: every
 * start comes up, keeps the 200 guests with their SSH host keys (all checked in the state, a sample
 * over SSH), and a file written into one guest over SSH holds every line written before.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, type RunningProcess, startProcess, waitFor } from '@glassdome/testkit';
import { Client } from 'ssh2';
import { generateEd25519 } from '../src/ssh/server/keys';
import { connect, exec, pinnedHostKey } from './ssh-harness';

const root = new URL('../../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'pve-sim-restarts-'));
const infoFile = join(dir, 'info.json');
const stateFile = join(dir, 'state.json');
const adminSecret = randomBytes(16).toString('hex');
const alice = generateEd25519('alice@test');
const guests = 200;
const restarts = 20;
/** The guest written into over SSH (the first of the bulk VMs). */
const writer = 100;
let sim: RunningProcess | undefined;
after(async () => {
  await sim?.stop(5000);
  rmSync(dir, { recursive: true, force: true });
});

interface Info {
  apiUrl: string;
  tokenId: string;
  tokenSecret: string;
  sshHostKeyFingerprint: string;
}

interface SavedVm {
  status: string;
  guest?: { hostKey?: { publicKey: string } };
}

async function start(guestPort: number): Promise<Info> {
  rmSync(infoFile, { force: true });
  sim = startProcess(process.execPath, ['--import', 'tsx', 'apps/pve-sim/src/main.ts'], {
    cwd: root,
    name: 'pve-sim',
    env: {
      PVE_SIM_PORT: '0',
      PVE_SIM_TLS: '0',
      PVE_SIM_TIME_SCALE: '0.01',
      PVE_SIM_SSH_PORT: '0',
      PVE_SIM_GUEST_SSH_PORT: String(guestPort),
      PVE_SIM_INFO_FILE: infoFile,
      PVE_SIM_STATE_FILE: stateFile,
      PVE_SIM_ADMIN_SECRET: adminSecret,
      LOG_LEVEL: 'warn',
    },
  });
  await sim.waitForOutput('pve-sim listening', 60_000);
  return JSON.parse(readFileSync(infoFile, 'utf8'));
}

async function stop(): Promise<void> {
  const code = await sim!.stop(10_000);
  assert.equal(code, 0, `pve-sim exited with ${code}:\n${sim!.output().slice(-2000)}`);
  sim = undefined;
}

async function call(info: Info, method: string, path: string, body?: Record<string, unknown>): Promise<unknown> {
  const admin = path.startsWith('/_sim');
  const response = await fetch(`${info.apiUrl}${admin ? '' : '/api2/json'}${path}`, {
    method,
    headers: admin
      ? { Authorization: `Bearer ${adminSecret}`, 'Content-Type': 'application/json' }
      : { Authorization: `PVEAPIToken=${info.tokenId}=${info.tokenSecret}` },
    ...(body ? { body: admin ? JSON.stringify(body) : new URLSearchParams(body as Record<string, string>) } : {}),
  });
  const text = await response.text();
  assert.equal(response.status, 200, `${method} ${path}: ${response.status} ${text}`);
  const parsed = JSON.parse(text);
  return admin ? parsed : parsed.data;
}

async function runningGuests(info: Info): Promise<Map<number, SavedVm>> {
  const state = (await call(info, 'GET', '/_sim/state')) as { vms: Record<string, SavedVm> };
  return new Map(
    Object.entries(state.vms)
      .filter(([, vm]) => vm.status === 'running')
      .map(([vmid, vm]) => [Number(vmid), vm]),
  );
}

function fingerprint(key: Buffer | string): string {
  const blob = typeof key === 'string' ? Buffer.from(key.split(' ')[1]!, 'base64') : key;
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The host key a guest's SSH server presents (the handshake is dropped right after). */
function presentedHostKey(vmid: number, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const client = new Client();
    client.on('error', (error) => (seen ? resolve(seen) : reject(error)));
    // Closed without an error (a guest rebooting): settled either way, as an error would.
    client.once('close', () => (seen ? resolve(seen) : reject(new Error(`guest ${vmid} closed before its host key`))));
    client.connect({
      host: `127.64.${Math.floor(vmid / 256)}.${vmid % 256}`,
      port,
      username: 'nobody',
      readyTimeout: 10_000,
      hostVerifier: (key: Buffer) => {
        seen = fingerprint(key);
        return false;
      },
    });
  });
}

async function appendLine(vmid: number, port: number, hostKey: string, line: string): Promise<string> {
  const client = await waitFor(`guest ${vmid} SSH`, () =>
    connect({
      host: `127.64.${Math.floor(vmid / 256)}.${vmid % 256}`,
      port,
      username: 'ubuntu',
      privateKey: alice.privateKey,
      hostVerifier: pinnedHostKey(hostKey),
    }).catch(() => undefined),
  );
  try {
    const result = await exec(client, `echo ${line} >> /home/ubuntu/rounds.txt && cat /home/ubuntu/rounds.txt`);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout;
  } finally {
    client.end();
  }
}

// About 90 s alone (most of it 21 process start-ups); more time than the runner's default on a busy machine.
test(`a state of ${guests} guests survives ${restarts} stops and starts of the simulator process`, {
  timeout: 600_000,
}, async () => {
  const guestPort = await freePort();
  let info = await start(guestPort);
  await call(info, 'POST', '/_sim/bulk-vms', { count: guests, start: true });
  // The image's own user (ubuntu) gets the key at the next boot, as cloud-init installs keys at each.
  await call(info, 'PUT', `/nodes/pve01/qemu/${writer}/config`, {
    sshkeys: encodeURIComponent(`${alice.publicKey}\n`),
  });
  await call(info, 'POST', `/nodes/pve01/qemu/${writer}/status/reboot`);
  const booted = await waitFor(
    `${guests} guests booted`,
    async () => {
      const running = await runningGuests(info);
      return [...running.values()].filter((vm) => vm.guest?.hostKey).length === guests ? running : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  const hostKeys = new Map([...booted].map(([vmid, vm]) => [vmid, fingerprint(vm.guest!.hostKey!.publicKey)]));
  const nodeKey = info.sshHostKeyFingerprint;
  let expected = await appendLine(writer, guestPort, hostKeys.get(writer)!, 'round-0');
  assert.equal(expected, 'round-0\n');

  for (let round = 1; round <= restarts; round++) {
    await stop();
    assert.ok(existsSync(stateFile));
    info = await start(guestPort);
    assert.equal(info.sshHostKeyFingerprint, nodeKey, `round ${round}: the node's host key`);
    const running = await runningGuests(info);
    assert.equal(running.size, guests, `round ${round}: running guests`);
    for (const [vmid, key] of hostKeys) {
      const saved = running.get(vmid)?.guest?.hostKey?.publicKey;
      assert.equal(saved && fingerprint(saved), key, `round ${round}: VM ${vmid}'s host key`);
    }
    const sample = [...hostKeys.keys()].sort(() => Math.random() - 0.5).slice(0, 4);
    for (const vmid of sample) {
      assert.equal(await presentedHostKey(vmid, guestPort), hostKeys.get(vmid), `round ${round}: VM ${vmid} over SSH`);
    }
    expected += `round-${round}\n`;
    assert.equal(await appendLine(writer, guestPort, hostKeys.get(writer)!, `round-${round}`), expected);
  }
  await stop();
});
