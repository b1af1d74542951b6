import { readFileSync } from 'node:fs';
import { SshPool, type SshTarget } from '@glassdome/ssh';
import type { LocalSimulatorInfo } from '@glassdome/testkit';

/** Runs a command on the simulator's node as root, as an operator would with `ssh root@pve`. */
export async function onSimNode(info: LocalSimulatorInfo, argv: string[]): Promise<string> {
  const ssh = new SshPool();
  const target: SshTarget = {
    host: '127.0.0.1',
    port: info.sshPort,
    username: 'root',
    privateKey: readFileSync(info.sshPrivateKeyPath, 'utf8'),
    hostKey: { kind: 'pinned', fingerprints: [info.sshHostKeyFingerprint] },
  };
  try {
    return (await ssh.exec(target, argv)).stdout;
  } finally {
    ssh.close();
  }
}
