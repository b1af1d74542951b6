import {
  HostKeyMismatchError,
  type HostKeyPolicy,
  loadPrivateKey,
  SshAuthError,
  SshKeyError,
  SshPool,
  type SshTarget,
} from '@glassdome/ssh';
import { type SetupAnswers, sshEndpoint } from './answers';
import type { NodeRunner } from './bootstrap';
import { type CheckOutcome, failed, passed, reasonOf } from './outcome';
import type { ConfirmTrust } from './proxmox-checks';

export interface SshCheckResult {
  outcomes: CheckOutcome[];
  /** The host key pinned for the config file. */
  sshHostKey?: string;
}

/** Remembers the key the server presented, so it can be shown and pinned once the login worked. */
function recordingPolicy(seen: { fingerprint?: string }): HostKeyPolicy {
  return {
    kind: 'tofu',
    store: {
      get: async () => undefined,
      trust: async (_host, _port, fingerprint) => {
        seen.fingerprint = fingerprint;
        return fingerprint;
      },
    },
  };
}

function loginFailure(answers: SetupAnswers, error: unknown): CheckOutcome {
  const title = 'SSH login';
  if (error instanceof HostKeyMismatchError) {
    return failed(
      title,
      `${answers.sshHost} presents host key ${error.received}, not the expected ${error.expected.join(' or ')}`,
      'compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the node; if it was reinstalled, give the new key',
    );
  }
  if (error instanceof SshAuthError) {
    return failed(
      title,
      `${answers.sshUser}@${answers.sshHost} refused the key ${answers.sshKeyFile}`,
      `add the matching public key to ~${answers.sshUser}/.ssh/authorized_keys on the node`,
    );
  }
  return failed(
    title,
    `cannot connect to ${answers.sshHost}: ${reasonOf(error)}`,
    'check the host and port and that sshd runs on the node',
  );
}

/** Logs in with the key, pins the host key, and checks that `qm` (Proxmox's VM tool) answers. */
export async function checkSsh(answers: SetupAnswers, confirm?: ConfirmTrust): Promise<SshCheckResult> {
  let privateKey: string;
  try {
    privateKey = await loadPrivateKey(answers.sshKeyFile);
  } catch (error) {
    const detail = error instanceof SshKeyError ? error.message : reasonOf(error);
    return {
      outcomes: [
        failed(
          'SSH key',
          `cannot use ${answers.sshKeyFile}: ${detail}`,
          'give the path of an unencrypted OpenSSH private key',
        ),
      ],
    };
  }
  const { host, port } = sshEndpoint(answers.sshHost);
  const seen: { fingerprint?: string } = {};
  const hostKey: HostKeyPolicy = answers.sshHostKey
    ? { kind: 'pinned', fingerprints: [answers.sshHostKey] }
    : recordingPolicy(seen);
  const pool = new SshPool({ connectTimeoutMs: 10_000 });
  try {
    const result = await pool.exec({ host, port, username: answers.sshUser, privateKey, hostKey }, ['qm', 'list'], {
      timeoutMs: 15_000,
    });
    const pinned = answers.sshHostKey ?? seen.fingerprint;
    if (!answers.sshHostKey && confirm && pinned && !(await confirm('SSH host key', pinned))) {
      return {
        outcomes: [
          failed(
            'SSH host key',
            `${pinned} not trusted`,
            'compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the node',
          ),
        ],
      };
    }
    const outcomes = [
      passed('SSH login', `${answers.sshUser}@${answers.sshHost} with ${answers.sshKeyFile}`),
      passed('SSH host key', `${pinned} (pinned)`),
    ];
    if (result.exitCode === 0) outcomes.push(passed('qm present', '`qm list` answers'));
    else if (result.exitCode === 127)
      outcomes.push(
        failed('qm present', `no qm on ${host}`, 'point the SSH host at a Proxmox VE node, not another machine'),
      );
    else
      outcomes.push(
        failed(
          'qm present',
          `\`qm list\` exited ${result.exitCode}: ${result.stderr.trim().split('\n')[0]}`,
          `log in as a user that may run qm (root), e.g. --ssh-user root`,
        ),
      );
    return { outcomes, sshHostKey: pinned };
  } catch (error) {
    return { outcomes: [loginFailure(answers, error)] };
  } finally {
    pool.close();
  }
}

/** Commands on the node over one SSH connection, its host key pinned to `hostKey` (what checkSsh pinned). */
export async function nodeRunner(answers: SetupAnswers, hostKey: string): Promise<{ run: NodeRunner; close(): void }> {
  const privateKey = await loadPrivateKey(answers.sshKeyFile);
  const { host, port } = sshEndpoint(answers.sshHost);
  const pool = new SshPool({ connectTimeoutMs: 10_000 });
  const target: SshTarget = {
    host,
    port,
    username: answers.sshUser,
    privateKey,
    hostKey: { kind: 'pinned', fingerprints: [hostKey] },
  };
  return {
    run: (argv) => pool.exec(target, argv, { timeoutMs: 30_000 }),
    close: () => pool.close(),
  };
}
