import { createHash } from 'node:crypto';
import type { HostKeyPolicy } from './host-key';
import { policyIdentity } from './host-key';

/** Where and as whom to connect. Built by the caller from config or the credential store, never from job data. */
export interface SshTarget {
  host: string;
  /** @defaultValue 22 */
  port?: number;
  username: string;
  /** Private key, OpenSSH or PEM text (see loadPrivateKey). */
  privateKey: string | Buffer;
  /** Passphrase of an encrypted private key. @defaultValue none */
  passphrase?: string;
  /** How the server's host key is verified. */
  hostKey: HostKeyPolicy;
}

export const DEFAULT_SSH_PORT = 22;

export function portOf(target: SshTarget): number {
  return target.port ?? DEFAULT_SSH_PORT;
}

/**
 * Connections are shared only between targets that would authenticate and verify identically. The key
 * is hashed so that the pool's map never holds, or could print, key material.
 */
export function connectionKey(target: SshTarget): string {
  const keyHash = createHash('sha256').update(target.privateKey).digest('hex').slice(0, 16);
  return `${target.username}@${target.host}:${portOf(target)}#${keyHash}#${policyIdentity(target.hostKey)}`;
}
