/**
 * Whether pve-firewall has compiled what the API holds. Proxmox applies a firewall write only when
 * the node's pve-firewall next compiles (every 10 s), and no API call tells when that happened; the
 * node's `pve-firewall status` does: it compiles the configuration as it is now and says
 * `(pending changes)` when that differs from the rules in force. Each node compiles for its own
 * guests, so another node is asked over the cluster's root SSH between nodes, as PVE's own
 * tools reach it: at its cluster address, its host key checked against the key the cluster pins
 * for that node name. Only online members of a quorate cluster, as `/cluster/status` lists them,
 * are asked. Each call compiles the node's whole firewall under the lock pve-firewall's own update
 * needs, so a node's calls are one at a time, and the next begins no sooner than a second (or as
 * long as the last one took) after the last one ended.
 *
 * The isolation check asks this (through the `firewall.status` job) so its probes start as soon as
 * the rules they test are in force, instead of a whole period after the last write.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayContext } from './context';
import { onNode, pveshGet, sharedFor } from './node-shell';

/** `compiled`: the rules in force are those the configuration compiles to; else not known to be. */
export type CompileState = 'compiled' | 'pending' | 'unknown';

export interface FirewallStatusAnswer {
  nodes: Record<string, CompileState>;
}

/** Least pause between the end of a node's status call and the start of its next one. */
const STATUS_GAP_MS = 1_000;
/** How long the cluster's member list is reused. */
const MEMBERS_FOR_MS = 30_000;
/** How often a node that cannot be asked is logged as a warning. */
const WARN_EVERY_MS = 60_000;

interface Member {
  /** Its cluster address (none needed for the node the gateway logs in to). */
  ip: string | undefined;
  /** The node the gateway's SSH logs in to. */
  local: boolean;
  online: boolean;
}

interface Cluster {
  quorate: boolean;
  members: Map<string, Member>;
}

/**
 * A node's status calls: the one running, and the next one, not begun yet (everyone who asks
 * meanwhile joins it; once it begins it becomes the running one and is nobody's to join).
 */
interface NodeLine {
  running: Promise<CompileState> | undefined;
  next: Promise<CompileState> | undefined;
  /** When the next call may begin. */
  readyAt: number;
  warnedAt: number;
}

const nodeLines = new WeakMap<GatewayContext, Map<string, NodeLine>>();

/** The cluster as `/cluster/status` lists it (read as root on the node), reused for MEMBERS_FOR_MS. */
const clusterStatus = sharedFor(MEMBERS_FOR_MS, async (ctx): Promise<Cluster> => {
  type Entry = { type?: string; name?: string; ip?: string; local?: number; online?: number; quorate?: number };
  const entries = await pveshGet<Entry[]>(ctx, '/cluster/status', 10_000);
  const members = new Map<string, Member>();
  for (const entry of entries) {
    if (entry.type !== 'node' || !entry.name) continue;
    members.set(entry.name, { ip: entry.ip, local: Number(entry.local) === 1, online: Number(entry.online) === 1 });
  }
  // A single node has no cluster entry and is its own quorum.
  const whole = entries.find((entry) => entry.type === 'cluster');
  return { quorate: !whole || Number(whole.quorate) === 1, members };
});

/** What one `pve-firewall status` line says. */
export function compileStateOf(output: string): CompileState {
  const line = /^Status: (enabled|disabled)\/(\w+)( \(pending changes\))?\s*$/m.exec(output);
  if (!line) return 'unknown';
  if (line[3]) return 'pending';
  return line[1] === 'enabled' && line[2] === 'running' ? 'compiled' : 'unknown';
}

/** The command that asks `node`: on the node itself, or over SSH between the cluster's nodes. */
export function statusArgv(node: string, member: Member): string[] {
  const status = ['pve-firewall', 'status'];
  if (member.local) return status;
  return [
    'ssh',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=3',
    '-o',
    `HostKeyAlias=${node}`,
    // Where PVE 8.2+ pins each node's key, and where older clusters merged them all.
    '-o',
    `UserKnownHostsFile=/etc/pve/nodes/${node}/ssh_known_hosts /etc/pve/priv/known_hosts`,
    `root@${member.ip}`,
    ...status,
  ];
}

function lineOf(ctx: GatewayContext, node: string): NodeLine {
  let lines = nodeLines.get(ctx);
  if (!lines) {
    lines = new Map();
    nodeLines.set(ctx, lines);
  }
  let line = lines.get(node);
  if (!line) {
    line = { running: undefined, next: undefined, readyAt: 0, warnedAt: 0 };
    lines.set(node, line);
  }
  return line;
}

/** The next call on the node: after the one running has ended and the pause after it. */
async function nextCall(ctx: GatewayContext, line: NodeLine, node: string, member: Member): Promise<CompileState> {
  await line.running;
  const pause = line.readyAt - Date.now();
  if (pause > 0) await sleep(pause);
  // From here on the call may read the node before a later asker's writes: none joins it.
  const call = line.next;
  line.running = call;
  line.next = undefined;
  const began = Date.now();
  try {
    return compileStateOf(await onNode(ctx, statusArgv(node, member), 10_000));
  } catch (error) {
    const quiet = Date.now() - line.warnedAt < WARN_EVERY_MS;
    if (!quiet) line.warnedAt = Date.now();
    ctx.logger[quiet ? 'debug' : 'warn'](
      { err: error, node },
      'pve-firewall status could not be read on the node; isolation checks wait out the firewall period there',
    );
    return 'unknown';
  } finally {
    line.readyAt = Date.now() + Math.max(STATUS_GAP_MS, Date.now() - began);
    if (line.running === call) line.running = undefined;
  }
}

/**
 * A node's compile state read after this call: a call that has begun may have read the node before
 * the asker's writes, so the asker joins the next one (shared by all who ask before it begins).
 */
function freshState(ctx: GatewayContext, node: string, member: Member): Promise<CompileState> {
  const line = lineOf(ctx, node);
  line.next ??= nextCall(ctx, line, node, member);
  return line.next;
}

/**
 * Each node's compile state, every one read after the job was taken (so after the asker's writes).
 * The job is set aside meanwhile (`setAside`, the worker's): it mostly waits for its node's turn, and
 * must not keep the queue's lab networks from being made.
 */
export async function firewallStatus(
  ctx: GatewayContext,
  nodes: readonly string[],
  setAside?: () => () => void,
): Promise<FirewallStatusAnswer> {
  const back = setAside?.();
  try {
    const cluster = await clusterStatus(ctx);
    const states = await Promise.all(
      [...new Set(nodes)].map(async (node): Promise<[string, CompileState]> => {
        const member = cluster.members.get(node);
        // Not a member, offline, or a cluster without quorum (whose nodes may hold stale configs).
        if (!cluster.quorate || !member?.online || (!member.local && !member.ip)) return [node, 'unknown'];
        return [node, await freshState(ctx, node, member)];
      }),
    );
    return { nodes: Object.fromEntries(states) };
  } finally {
    back?.();
  }
}
