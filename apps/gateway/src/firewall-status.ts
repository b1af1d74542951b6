/**
 * Whether pve-firewall has compiled what the API holds. Proxmox applies a firewall write only when
 * the node's pve-firewall next compiles (every 10 s), and no API call tells when that happened; the
 * node's `pve-firewall status` does: it compiles the configuration as it is now and says
 * `(pending changes)` when that differs from the rules in force. Each node compiles for its own
 * guests, so another node is asked over the cluster's root SSH between nodes, as PVE's own
 * migrations reach it: at its cluster address, its host key looked up by its node name. Only
 * members `/cluster/status` lists are asked; a node's calls are one at a time, a second apart at
 * least, since each compiles the node's whole firewall.
 *
 * The isolation check asks this (through the `firewall.status` job) so its probes start as soon as
 * the rules they test are in force, instead of a whole period after the last write.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobContext } from '@glassdome/queue';
import type { GatewayContext } from './context';
import { onNode } from './node-shell';

/** `compiled`: the rules in force are those the configuration compiles to; else not known to be. */
export type CompileState = 'compiled' | 'pending' | 'unknown';

export interface FirewallStatusAnswer {
  nodes: Record<string, CompileState>;
}

/** An answer nobody waits for any more (the asker gives up after one firewall period and a fifth). */
const STALE_MS = 30_000;

/** A node's status calls: one at a time, and the next one shared by everyone who asked meanwhile. */
interface NodeLine {
  running: Promise<CompileState> | undefined;
  queued: Promise<CompileState> | undefined;
  startedAt: number;
}

/** Least time between the starts of two status calls on one node. */
const STATUS_GAP_MS = 1_000;
/** How long the cluster's member list is reused. */
const MEMBERS_FOR_MS = 60_000;

interface Member {
  ip: string;
  /** The node the gateway's SSH logs in to. */
  local: boolean;
}

const memberLists = new WeakMap<GatewayContext, { at: number; members: Promise<Map<string, Member>> }>();
const lines = new WeakMap<GatewayContext, Map<string, NodeLine>>();

/** The cluster's nodes by name, as `/cluster/status` lists them (read as root on the node). */
function clusterMembers(ctx: GatewayContext): Promise<Map<string, Member>> {
  const cached = memberLists.get(ctx);
  if (cached && Date.now() - cached.at < MEMBERS_FOR_MS) return cached.members;
  const members = onNode(ctx, ['pvesh', 'get', '/cluster/status', '--output-format', 'json'], 10_000).then((out) => {
    const byName = new Map<string, Member>();
    for (const entry of JSON.parse(out) as { type?: string; name?: string; ip?: string; local?: number }[]) {
      if (entry.type === 'node' && entry.name && entry.ip) {
        byName.set(entry.name, { ip: entry.ip, local: Number(entry.local) === 1 });
      }
    }
    return byName;
  });
  memberLists.set(ctx, { at: Date.now(), members });
  members.catch(() => memberLists.delete(ctx));
  return members;
}

/** What one `pve-firewall status` line says. */
export function compileStateOf(output: string): CompileState {
  const line = /^Status: (enabled|disabled)\/(\w+)( \(pending changes\))?\s*$/m.exec(output);
  if (!line) return 'unknown';
  if (line[3]) return 'pending';
  return line[1] === 'enabled' && line[2] === 'running' ? 'compiled' : 'unknown';
}

async function askNode(ctx: GatewayContext, node: string): Promise<CompileState> {
  const member = (await clusterMembers(ctx)).get(node);
  if (!member) return 'unknown';
  const status = ['pve-firewall', 'status'];
  const argv = member.local
    ? status
    : ['ssh', '-o', 'BatchMode=yes', '-o', `HostKeyAlias=${node}`, `root@${member.ip}`, ...status];
  return compileStateOf(await onNode(ctx, argv, 10_000));
}

function start(ctx: GatewayContext, line: NodeLine, node: string): Promise<CompileState> {
  const gap = line.startedAt + STATUS_GAP_MS - Date.now();
  line.startedAt = Date.now() + Math.max(0, gap);
  const asked = gap > 0 ? sleep(gap).then(() => askNode(ctx, node)) : askNode(ctx, node);
  const state = asked.catch((error: unknown) => {
    ctx.logger.debug({ err: error, node }, 'pve-firewall status not read');
    return 'unknown' as const;
  });
  line.running = state;
  void state.finally(() => {
    if (line.running === state) line.running = undefined;
  });
  return state;
}

/**
 * A node's compile state read after this call: a status already under way may have begun before the
 * asker's writes, so the asker joins the next one (shared by all who ask meanwhile), never that one.
 */
function freshState(ctx: GatewayContext, node: string): Promise<CompileState> {
  let byNode = lines.get(ctx);
  if (!byNode) {
    byNode = new Map();
    lines.set(ctx, byNode);
  }
  let line = byNode.get(node);
  if (!line) {
    line = { running: undefined, queued: undefined, startedAt: 0 };
    byNode.set(node, line);
  }
  const mine = line;
  if (!mine.running) return start(ctx, mine, node);
  mine.queued ??= mine.running.then(() => {
    mine.queued = undefined;
    return start(ctx, mine, node);
  });
  return mine.queued;
}

/** Each node's compile state, every one read after the job was taken (so after the asker's writes). */
export async function firewallStatus(
  ctx: GatewayContext,
  nodes: readonly string[],
  context: Pick<JobContext, 'job'>,
): Promise<FirewallStatusAnswer> {
  const answer: FirewallStatusAnswer = { nodes: {} };
  if (Date.now() - context.job.timestamp > STALE_MS) return answer;
  const unique = [...new Set(nodes)];
  const states = await Promise.all(unique.map((node) => freshState(ctx, node)));
  unique.forEach((node, index) => {
    answer.nodes[node] = states[index]!;
  });
  return answer;
}
