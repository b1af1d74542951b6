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

/** Like onNode, but a failure whose message matches `tolerated` (e.g. "already exists") counts as success. */
export async function onNodeTolerating(ctx: GatewayContext, argv: string[], tolerated: RegExp): Promise<void> {
  const result = await ctx.ssh.exec(ctx.node, argv, { timeoutMs: 60_000, allowFailure: true });
  if (result.exitCode !== 0 && !tolerated.test(result.stderr + result.stdout)) {
    throw new NodeCommandError(argv, result.exitCode, result.stderr);
  }
}
