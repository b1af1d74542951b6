import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, type RunningProcess, startProcess } from '@glassdome/stack';

export interface TestSshd {
  host: string;
  port: number;
  user: string;
  /** Client private key (OpenSSH format) accepted by this sshd. */
  privateKeyPath: string;
  privateKey: string;
  /** The server's host public key line (`ssh-ed25519 AAAA…`) and its SHA256 fingerprint. */
  hostPublicKey: string;
  hostKeyFingerprint: string;
  dir: string;
  stop(): Promise<void>;
}

const SSHD = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((path) => existsSync(path));

/** Starts a real OpenSSH sshd on 127.0.0.1 at a free port, accepting one generated ed25519 key. */
export async function startSshd(): Promise<TestSshd> {
  if (!SSHD) throw new Error('sshd not found: install openssh-server (apt-get install -y openssh-server)');
  const dir = mkdtempSync(join(tmpdir(), 'gd-sshd-'));
  const keygen = (path: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  keygen(join(dir, 'host_key'));
  keygen(join(dir, 'client_key'));
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')), { mode: 0o600 });
  mkdirSync('/run/sshd', { recursive: true });
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'StrictModes no',
    'UsePAM no',
    'Subsystem sftp internal-sftp',
    'MaxSessions 50',
    'MaxStartups 100',
    'LogLevel ERROR',
  ].join('\n');
  writeFileSync(join(dir, 'sshd_config'), `${config}\n`);
  const daemon: RunningProcess = startProcess(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { name: 'sshd' });
  await waitForPort(port, daemon);
  const hostPublicKey = readFileSync(join(dir, 'host_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'host_key.pub')], {
    encoding: 'utf8',
  }).split(' ')[1]!;
  return {
    host: '127.0.0.1',
    port,
    user: userInfo().username,
    privateKeyPath: join(dir, 'client_key'),
    privateKey: readFileSync(join(dir, 'client_key'), 'utf8'),
    hostPublicKey,
    hostKeyFingerprint: fingerprint,
    dir,
    async stop() {
      await daemon.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, daemon: RunningProcess): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (daemon.child.exitCode !== null) throw new Error(`sshd exited: ${daemon.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sshd did not listen on ${port}: ${daemon.output()}`);
}
