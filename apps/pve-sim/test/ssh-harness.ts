/** Starts an in-process simulator with its SSH side and speaks to it with the ssh2 client. */
import { createHash } from 'node:crypto';
import { createLogger } from '@glassdome/logger';
import { freePort, waitFor } from '@glassdome/testkit';
import { Client, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import type { SimulatorInput } from '../src/options';
import { Simulator } from '../src/sim';
import { type SimulatorSsh, startSimulatorSsh } from '../src/ssh';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SshHarness {
  sim: Simulator;
  ssh: SimulatorSsh;
  guestPort: number;
  /** Waits until the VM's guest SSH listens (its OS is up) and returns its address. */
  guestUp(vmid: number): Promise<string>;
  /** Runs a command line on the node as root. */
  node(command: string, stdin?: string): Promise<ExecResult>;
  stop(): Promise<void>;
}

/** A host-key verifier that accepts only the key with this SHA256 fingerprint. */
export function pinnedHostKey(fingerprint: string): (key: Buffer) => boolean {
  return (key) => `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}` === fingerprint;
}

/** Opens an SSH connection; rejects on authentication failure, refusal or a close before it is ready. */
export function connect(config: ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once('ready', () => resolve(client));
    // A connection cut during the handshake may report twice (the reset, then the loss): every
    // report is handled, the first one decides.
    client.on('error', reject);
    // A server that closes the connection before the handshake ends (a guest rebooting) reports no
    // error, only the close: without this the promise would never settle.
    client.once('close', () => reject(new Error('the connection closed before it was ready')));
    client.connect({ readyTimeout: 10_000, ...config });
  });
}

/** Runs one command on an open connection, sending `stdin` (then EOF). */
export function exec(client: Client, command: string, stdin = ''): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      let stdout = '';
      let stderr = '';
      let code = -1;
      channel.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      channel.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      channel.on('exit', (status: number) => (code = status));
      channel.on('close', () => resolve({ code, stdout, stderr }));
      channel.end(stdin);
    });
  });
}

export function openSftp(client: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp))));
}

export async function startSshHarness(options: SimulatorInput = {}): Promise<SshHarness> {
  const sim = new Simulator({ timeScale: 0.01, seed: 7, ...options });
  const guestPort = await freePort();
  const logger = createLogger({ name: 'pve-sim-ssh-test', level: 'silent', format: 'json' });
  const ssh = await startSimulatorSsh({ sim, port: 0, guestPort, logger });
  const root = await connect({
    host: '127.0.0.1',
    port: ssh.node.port,
    username: 'root',
    privateKey: ssh.node.privateKey!,
    hostVerifier: pinnedHostKey(ssh.node.hostKeyFingerprint),
  });
  return {
    sim,
    ssh,
    guestPort,
    node: (command, stdin) => exec(root, command, stdin),
    guestUp: (vmid) => waitFor(`guest ${vmid} listening`, () => ssh.guests.isListening(vmid) && sim.guest(vmid)?.ip),
    async stop() {
      root.end();
      await ssh.close();
      sim.stop();
    },
  };
}
