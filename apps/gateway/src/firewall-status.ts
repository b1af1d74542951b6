/**
 * Whether pve-firewall has compiled what the API holds. Proxmox applies a firewall write only when
 * the node's pve-firewall next compiles (every 10 s), and no API call tells when that happened; the
 * node's `pve-firewall status` does: it compiles the configuration as it is now and says
 * `(pending changes)` when that differs from the rules in force. Each node compiles for its own
 * guests, so another node is asked over the cluster's root SSH between nodes, as migrations do.
 *
 * The isolation check asks this (through the `firewall.status` job) so its probes start as soon as
 * the rules they test are in force, instead of a whole period after the last write.
 */
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
}

const ownNames = new WeakMap<GatewayContext, Promise<string>>();
const lines = new WeakMap<GatewayContext, Map<string, NodeLine>>();

/** The name of the node the gateway's SSH reaches (a PVE node's host name is its node name). */
function ownNode(ctx: GatewayContext): Promise<string> {
  let name = ownNames.get(ctx);
  if (!name) {
    name = onNode(ctx, ['hostname'], 10_000).then((out) => out.trim());
    ownNames.set(ctx, name);
    name.catch(() => ownNames.delete(ctx));
  }
  return name;
}

/** What one `pve-firewall status` line says. */
export function compileStateOf(output: string): CompileState {
  const line = /^Status: (enabled|disabled)\/(\w+)( \(pending changes\))?\s*$/m.exec(output);
  if (!line) return 'unknown';
  if (line[3]) return 'pending';
  return line[1] === 'enabled' && line[2] === 'running' ? 'compiled' : 'unknown';
}

async function askNode(ctx: GatewayContext, node: string): Promise<CompileState> {
  const status = ['pve-firewall', 'status'];
  const argv = node === (await ownNode(ctx)) ? status : ['ssh', '-o', 'BatchMode=yes', `root@${node}`, ...status];
  return compileStateOf(await onNode(ctx, argv, 10_000));
}

function start(ctx: GatewayContext, line: NodeLine, node: string): Promise<CompileState> {
  const state = askNode(ctx, node).catch((error: unknown) => {
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
    line = { running: undefined, queued: undefined };
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
