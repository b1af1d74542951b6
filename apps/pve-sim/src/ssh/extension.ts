/**
 * Plugs the SSH side into `startSimulator`: starts the node's SSH server and the guests' listeners
 * with the API, adds the SSH facts to the info file, and stops them with it.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@glassdome/logger';
import type { SimulatorExtension, StartOptions } from '../index';
import { startSimulatorSsh } from './index';

export interface SshExtensionOptions {
  /** authorized_keys file for root (PVE_SIM_SSH_AUTHORIZED_KEYS); without it a client key pair is generated. */
  authorizedKeysPath?: string;
  /** Where a generated client private key goes. @defaultValue beside the info file (`<info>.root_ed25519`), else in the temp dir */
  clientKeyPath?: string;
  logger: Logger;
}

function defaultClientKeyPath(options: StartOptions): string {
  if (options.infoFile) return `${options.infoFile.replace(/\.json$/, '')}.root_ed25519`;
  return join(tmpdir(), `pve-sim-${process.pid}.root_ed25519`);
}

/** The SSH side as a simulator extension (ports from StartOptions.sshPort / guestSshPort). */
export function sshExtension(options: SshExtensionOptions): SimulatorExtension {
  return async ({ sim, options: start, info }) => {
    const clientKeyPath = options.authorizedKeysPath
      ? undefined
      : (options.clientKeyPath ?? defaultClientKeyPath(start));
    const ssh = await startSimulatorSsh({
      sim,
      node: info.node,
      host: start.host ?? '127.0.0.1',
      port: start.sshPort ?? 2222,
      guestPort: start.guestSshPort ?? 22,
      logger: options.logger,
      ...(options.authorizedKeysPath ? { authorizedKeysPath: options.authorizedKeysPath } : {}),
      ...(clientKeyPath ? { clientKeyPath } : {}),
    });
    options.logger.info(
      { sshPort: ssh.node.port, hostKeyFingerprint: ssh.node.hostKeyFingerprint },
      'node ssh listening',
    );
    return {
      info: {
        sshPort: ssh.node.port,
        sshUser: 'root',
        sshHostKeyFingerprint: ssh.node.hostKeyFingerprint,
        sshHostPublicKey: ssh.node.hostPublicKey,
        guestSshPort: start.guestSshPort ?? 22,
        ...(ssh.node.privateKeyPath ? { sshPrivateKeyPath: ssh.node.privateKeyPath } : {}),
      },
      async stop() {
        await ssh.close();
        if (ssh.node.privateKeyPath) {
          rmSync(ssh.node.privateKeyPath, { force: true });
          rmSync(`${ssh.node.privateKeyPath}.pub`, { force: true });
        }
      },
    };
  };
}
