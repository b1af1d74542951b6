import type { GatewayContext } from './context';

export class NodeCommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(
      `\`${argv.slice(0, 3).join(' ')}\` on the node exited ${exitCode}: ${stderr.trim().split('\n').slice(-2).join(' | ')}`,
    );
    this.name = 'NodeCommandError';
  }
}

/** Runs one command on the node (every argument quoted by the SSH package); throws on a non-zero exit. */
export async function onNode(ctx: GatewayContext, argv: string[], timeoutMs = 10 * 60_000): Promise<string> {
  const result = await ctx.ssh.exec(ctx.node, argv, { timeoutMs, allowFailure: true });
  if (result.exitCode !== 0) throw new NodeCommandError(argv, result.exitCode, result.stderr);
  return result.stdout;
}

/** `pvesh get <path>` on the node, as JSON. */
export async function pveshGet<T>(ctx: GatewayContext, path: string, timeoutMs?: number): Promise<T> {
  return JSON.parse(await onNode(ctx, ['pvesh', 'get', path, '--output-format', 'json'], timeoutMs)) as T;
}

/**
 * `load(ctx)`, shared by every caller with the same context for `forMs` after it began (`now`: the
 * callers' clock); a load that failed is not kept, so the next caller loads again.
 */
export function sharedFor<T>(
  forMs: number,
  load: (ctx: GatewayContext) => Promise<T>,
): (ctx: GatewayContext, now?: number) => Promise<T> {
  const loads = new WeakMap<GatewayContext, { at: number; value: Promise<T> }>();
  return (ctx, now = Date.now()) => {
    const last = loads.get(ctx);
    if (last && now - last.at < forMs) return last.value;
    const value = load(ctx);
    loads.set(ctx, { at: now, value });
    value.catch(() => {
      if (loads.get(ctx)?.value === value) loads.delete(ctx);
    });
    return value;
  };
}

/** Like onNode, but a failure whose message matches `tolerated` (e.g. "already exists") counts as success. */
export async function onNodeTolerating(ctx: GatewayContext, argv: string[], tolerated: RegExp): Promise<void> {
  const result = await ctx.ssh.exec(ctx.node, argv, { timeoutMs: 60_000, allowFailure: true });
  if (result.exitCode !== 0 && !tolerated.test(result.stderr + result.stdout)) {
    throw new NodeCommandError(argv, result.exitCode, result.stderr);
  }
}
