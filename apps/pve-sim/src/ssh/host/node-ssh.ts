/**
 * The node's SSH daemon: root logs in with an authorized key (or root@pam's password) and runs
 * `qm`, `pveum`, `pvesm`, `pvesh`, `pve-firewall status`, `ssh` to the other nodes and a few host
 * commands against the simulator's state.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '@glassdome/logger';
import type { ParsedKey } from 'ssh2';
import type { Simulator } from '../../sim';
import type { DiskProvenance } from '../provenance';
import {
  type GeneratedKeyPair,
  generateEd25519,
  parseAuthorizedKeys,
  publicKeyMatches,
  readAuthorizedKeysFile,
  sha256Fingerprint,
} from '../server/keys';
import { SshEndpoint } from '../server/ssh-endpoint';
import { ensureNodeHostKey } from './known-hosts';
import { nodeHost, nodeShell } from './node-shell';

export interface NodeSshOptions {
  sim: Simulator;
  /** Shared with the guest side: which image each imported disk came from. */
  provenance: DiskProvenance;
  /** Node whose shell this is. @defaultValue the simulator's first node */
  node?: string;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @defaultValue 2222 */
  port?: number;
  /** authorized_keys file whose keys may log in as root; without it a client key pair is generated. */
  authorizedKeysPath?: string;
  /** Where the generated client private key is written (`.pub` beside it); only without authorizedKeysPath. */
  clientKeyPath?: string;
  logger: Logger;
}

export interface NodeSshServer {
  port: number;
  /** `ssh-ed25519 AAAA…` host key line, for a known_hosts entry. */
  hostPublicKey: string;
  /** `SHA256:…` fingerprint of the host key (what `PROXMOX_SSH_HOST_KEY` pins). */
  hostKeyFingerprint: string;
  /** Path of the generated client private key, when one was generated and written. */
  privateKeyPath?: string;
  /** The generated client private key (OpenSSH format), when one was generated. */
  privateKey?: string;
  close(): Promise<void>;
}

function clientKeys(options: NodeSshOptions): { keys: ParsedKey[]; privateKey?: string; privateKeyPath?: string } {
  if (options.authorizedKeysPath) return { keys: readAuthorizedKeysFile(options.authorizedKeysPath) };
  const pair = generateEd25519('root@pve-sim-client');
  if (options.clientKeyPath) {
    mkdirSync(dirname(options.clientKeyPath), { recursive: true });
    writeFileSync(options.clientKeyPath, pair.privateKey, { mode: 0o600 });
    writeFileSync(`${options.clientKeyPath}.pub`, `${pair.publicKey}\n`);
  }
  const generated = { keys: parseAuthorizedKeys([pair.publicKey]), privateKey: pair.privateKey };
  return options.clientKeyPath ? { ...generated, privateKeyPath: options.clientKeyPath } : generated;
}

/**
 * The node's host key: the one its state record holds (so a simulator restarted with its state file
 * keeps its identity), else a new one, written into the record. A state replaced while the server
 * runs (reset, load) gets the key the server is using.
 */
function nodeHostKey(sim: Simulator, node: string): { key: GeneratedKeyPair; release(): void } {
  const key = ensureNodeHostKey(sim, node);
  const keep = () => {
    const record = sim.state.nodes[node];
    if (record) record.sshHostKey = key;
  };
  keep();
  sim.on('state-replaced', keep);
  return { key, release: () => sim.off('state-replaced', keep) };
}

/** Starts the node's SSH server with the node's host key (made at its first start). */
export async function startNodeSsh(options: NodeSshOptions): Promise<NodeSshServer> {
  const node = options.node ?? options.sim.options.nodes[0]!;
  const { key: hostKey, release } = nodeHostKey(options.sim, node);
  const client = clientKeys(options);
  const { fs, commands } = nodeHost(options.sim, node, options.provenance);
  const endpoint = new SshEndpoint({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 2222,
    hostKey: hostKey.privateKey,
    hostname: node,
    logger: options.logger,
    authenticate(context) {
      if (context.username !== 'root') return false;
      if (context.method === 'publickey') return publicKeyMatches(context, client.keys);
      if (context.method === 'password') return options.sim.verifyPassword('root@pam', context.password);
      return false;
    },
    shellFor: () => nodeShell(fs, commands),
  });
  const port = await endpoint.listen();
  const server: NodeSshServer = {
    port,
    hostPublicKey: hostKey.publicKey.split(' ').slice(0, 2).join(' '),
    hostKeyFingerprint: sha256Fingerprint(hostKey.publicKey),
    close: () => {
      release();
      return endpoint.close();
    },
  };
  if (client.privateKey) server.privateKey = client.privateKey;
  if (client.privateKeyPath) server.privateKeyPath = client.privateKeyPath;
  return server;
}
