/**
 * Host keys between cluster nodes. Since pve-cluster 8.0.6 a node's host key is no longer merged
 * into the cluster-wide `/etc/pve/priv/known_hosts`: each node pins its own in
 * `/etc/pve/nodes/<node>/ssh_known_hosts` (one line, `<node> <type> <base64>`, no newline), and
 * PVE's tools pass `-o UserKnownHostsFile=<that file> -o GlobalKnownHostsFile=none` with
 * `HostKeyAlias=<node>`. A real node pins its RSA key; a simulated node has one host key (the
 * ed25519 key its SSH server presents), so that is the key pinned and the key a hop presents.
 * The lookup follows OpenSSH 9.2's known_hosts matching (plain, wildcard, negated and hashed names).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Simulator } from '../../sim';
import { type GeneratedKeyPair, generateEd25519 } from '../server/keys';
import type { VirtualFs } from '../shell/virtual-fs';

/** The node's host key pair: the one its state record holds, else a new one kept there. */
export function ensureNodeHostKey(sim: Simulator, node: string): GeneratedKeyPair {
  const record = sim.state.nodes[node];
  const key = record?.sshHostKey ?? generateEd25519(`root@${node}`);
  if (record) record.sshHostKey = key;
  return key;
}

/** `<type> <base64>` of the node's host key. */
export function nodeHostKeyLine(sim: Simulator, node: string): string {
  return ensureNodeHostKey(sim, node).publicKey.split(/\s+/).slice(0, 2).join(' ');
}

/** Mounts `/etc/pve/nodes/<n>/ssh_known_hosts` of every node, as pmxcfs shows them on each node. */
export function mountNodeKnownHosts(fs: VirtualFs, sim: Simulator): void {
  for (const node of sim.options.nodes) {
    fs.mountGenerated(`/etc/pve/nodes/${node}`, () => ({ ssh_known_hosts: `${node} ${nodeHostKeyLine(sim, node)}` }));
  }
}

/** ssh's `match_pattern`: `*` and `?` wildcards over the whole string. */
function wildcardMatch(text: string, pattern: string): boolean {
  let expression = '^';
  for (const char of pattern) {
    expression += char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`${expression}$`, 's').test(text);
}

/**
 * ssh's `match_hostname`: a comma-separated list whose patterns are lower-cased (the name is not),
 * a `!` pattern that matches rejects the name, otherwise any match accepts it.
 */
function hostMatches(name: string, list: string): boolean {
  if (list.startsWith('|1|')) {
    const [salt, hash] = list.slice(3).split('|');
    if (!salt || !hash) return false;
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return digest === hash;
  }
  let matched = false;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (!wildcardMatch(name, pattern)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

export interface KnownKey {
  type: string;
  blob: string;
  file: string;
  line: number;
}

/** The keys the files list for `name` (the files as given, in order), skipping marker lines. */
export function knownKeysFor(fs: VirtualFs, files: string[], name: string): KnownKey[] {
  const found: KnownKey[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFile(file).toString();
    } catch {
      continue;
    }
    text.split('\n').forEach((raw, index) => {
      const fields = raw.trim().split(/\s+/);
      if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#') || fields[0].startsWith('@')) return;
      const [hosts, type, blob] = fields;
      if (!type || !blob || !hostMatches(name, hosts!)) return;
      found.push({ type, blob, file, line: index + 1 });
    });
  }
  return found;
}

/** The line ssh adds (HashKnownHosts yes, as Debian's ssh_config sets it) for an accepted new key. */
export function hashedKnownHostsLine(name: string, keyLine: string): string {
  const salt = randomBytes(20);
  const hash = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${hash} ${keyLine}\n`;
}
