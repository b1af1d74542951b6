/**
 * `glassdome lab snapshot|revert|reset|roster|extend|testing`: running an exercise on a deployed
 * lab. Snapshots, reverts, resets and testing mode start an operation; `--wait` follows it until it
 * ends (exit 1 if it failed).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { UsageError, WorkFailedError } from '../errors';
import { renderTable } from '../table';
import { collect, positiveInteger, sshPublicKey, withJson } from './options';

interface Started {
  labId: string;
  operationId: string;
  kind: string;
  vms?: number;
}

interface OperationView {
  id: string;
  kind: string;
  snapshot: string | null;
  status: string;
  progress: { done: number; total: number };
  error: string | null;
  createdAt: string;
}

interface TargetOptions {
  copy?: number;
  vm?: string;
}

/** `--copy N` counts from 1, as a class does; the API counts copies from 0. */
function targetBody(options: TargetOptions): { copy?: number; vmId?: string } {
  if (options.copy !== undefined && options.vm !== undefined) {
    throw new UsageError('give --copy or --vm, not both');
  }
  return {
    ...(options.copy !== undefined ? { copy: options.copy - 1 } : {}),
    ...(options.vm !== undefined ? { vmId: options.vm } : {}),
  };
}

function withTarget(command: Command): Command {
  return command
    .option('--copy <n>', 'only this copy (1 = the first)', positiveInteger)
    .option('--vm <id>', 'only this VM (its id)');
}

/** Prints the started operation, or follows it to its end with `--wait`. */
async function report(ctx: CliContext, started: Started, options: { wait?: boolean; json?: boolean }, what: string) {
  if (!options.wait) {
    if (options.json) ctx.printJson(started);
    else
      ctx.print(
        `${what} of ${started.vms ?? '?'} VM(s) started: operation ${started.operationId} (glassdome lab operations ${started.labId})`,
      );
    return;
  }
  const client = ctx.client();
  let last = '';
  for (;;) {
    const operation = await client.call<OperationView>(
      'GET',
      `/labs/${encodeURIComponent(started.labId)}/operations/${started.operationId}`,
    );
    const line = `${operation.status} ${operation.progress.done}/${operation.progress.total}`;
    if (line !== last && !options.json) ctx.note(`${what}: ${line}`);
    last = line;
    if (operation.status === 'done' || operation.status === 'failed') {
      if (options.json) ctx.printJson(operation);
      else ctx.print(`${what} ${operation.status}${operation.error ? `: ${operation.error}` : ''}`);
      if (operation.status === 'failed')
        throw new WorkFailedError(`${what} failed: ${operation.error ?? 'see the lab'}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

interface SnapshotView {
  name: string;
  scope: string;
  status: string;
  withRam: boolean;
  automatic: boolean;
  createdAt: string;
  copies: number[];
  vms: unknown[];
}

function registerSnapshotCommands(lab: Command, ctx: CliContext): void {
  const snapshot = lab.command('snapshot').description("named snapshots of a lab's VMs (all, a copy, or one VM)");

  withJson(
    withTarget(
      snapshot
        .command('create')
        .description('snapshot the whole lab (every VM of every copy at once), a copy or a VM')
        .argument('<lab>', 'lab id')
        .argument('<name>', 'snapshot name (letters, digits, - and _; starts with a letter)'),
    )
      .option('--ram', "keep each running VM's memory too (a revert resumes it where it was)")
      .option('--description <text>', 'what this snapshot is')
      .option('--wait', 'follow it until every VM is snapshotted'),
  ).action(
    async (
      labId: string,
      name: string,
      options: TargetOptions & { ram?: boolean; description?: string; wait?: boolean; json?: boolean },
    ) => {
      const started = await ctx.client().call<Started>('POST', `/labs/${encodeURIComponent(labId)}/snapshots`, {
        json: {
          name,
          ...targetBody(options),
          ...(options.ram ? { withRam: true } : {}),
          ...(options.description ? { description: options.description } : {}),
        },
      });
      await report(ctx, started, options, `snapshot ${name}`);
    },
  );

  withJson(snapshot.command('list').description("a lab's snapshots").argument('<lab>', 'lab id')).action(
    async (labId: string, options: { json?: boolean }) => {
      const answer = await ctx
        .client()
        .call<{ items: SnapshotView[] }>('GET', `/labs/${encodeURIComponent(labId)}/snapshots`);
      if (options.json) {
        ctx.printJson(answer.items);
        return;
      }
      for (const line of renderTable(answer.items, [
        { header: 'name', cell: (s) => `${s.name}${s.automatic ? ' (auto)' : ''}` },
        { header: 'scope', cell: (s) => s.scope },
        { header: 'copies', cell: (s) => s.copies.map((c) => c + 1).join(',') },
        { header: 'vms', cell: (s) => s.vms.length },
        { header: 'ram', cell: (s) => (s.withRam ? 'yes' : 'no') },
        { header: 'status', cell: (s) => s.status },
        { header: 'taken', cell: (s) => s.createdAt },
      ]))
        ctx.print(line);
    },
  );

  withJson(
    withTarget(
      snapshot
        .command('delete')
        .description('delete a snapshot')
        .argument('<lab>', 'lab id')
        .argument('<name>', 'snapshot name'),
    ).option('--wait', 'follow it until it is gone'),
  ).action(async (labId: string, name: string, options: TargetOptions & { wait?: boolean; json?: boolean }) => {
    const target = targetBody(options);
    const started = await ctx
      .client()
      .call<Started>('DELETE', `/labs/${encodeURIComponent(labId)}/snapshots/${encodeURIComponent(name)}`, {
        query: { copy: target.copy, vmId: target.vmId },
      });
    await report(ctx, started, options, `deleting ${name}`);
  });

  withJson(
    withTarget(
      snapshot
        .command('revert')
        .description('revert the lab, a copy or a VM to a snapshot (rolled back, started, verified again)')
        .argument('<lab>', 'lab id')
        .argument('<name>', 'snapshot name'),
    ).option('--wait', 'follow it until the lab is ready again'),
  ).action(async (labId: string, name: string, options: TargetOptions & { wait?: boolean; json?: boolean }) => {
    const started = await ctx.client().call<Started>('POST', `/labs/${encodeURIComponent(labId)}/revert`, {
      json: { snapshot: name, ...targetBody(options) },
    });
    await report(ctx, started, options, `revert to ${name}`);
  });
}

interface RosterRow {
  copyNumber: number;
  vm: string;
  status: string;
  addresses: Record<string, string | null>;
  ssh: { command: string | null };
  sshKeys: { comment: string | null; fingerprint: string | null }[];
  traineeApiKeys: { name: string; prefix: string }[];
}

export function registerLabExerciseCommands(lab: Command, ctx: CliContext): void {
  registerSnapshotCommands(lab, ctx);

  withJson(
    withTarget(
      lab
        .command('reset')
        .description('revert to the snapshot taken when the lab was first ready (a copy, a VM, or all)')
        .argument('<lab>', 'lab id'),
    ).option('--wait', 'follow it until the lab is ready again'),
  ).action(async (labId: string, options: TargetOptions & { wait?: boolean; json?: boolean }) => {
    const started = await ctx.client().call<Started>('POST', `/labs/${encodeURIComponent(labId)}/reset`, {
      json: targetBody(options),
    });
    await report(ctx, started, options, 'reset');
  });

  withJson(
    lab
      .command('roster')
      .description('the class roster: one row per copy and VM, with addresses and the SSH command')
      .argument('<lab>', 'lab id')
      .option('--csv', 'print it as CSV (for a spreadsheet)'),
  ).action(async (labId: string, options: { csv?: boolean; json?: boolean }) => {
    const client = ctx.client();
    if (options.csv) {
      ctx.io.stdout.write(
        await client.text('GET', `/labs/${encodeURIComponent(labId)}/roster`, { query: { format: 'csv' } }),
      );
      return;
    }
    const roster = await client.call<{ name: string; rows: RosterRow[] }>(
      'GET',
      `/labs/${encodeURIComponent(labId)}/roster`,
    );
    if (options.json) {
      ctx.printJson(roster);
      return;
    }
    for (const line of renderTable(roster.rows, [
      { header: 'copy', cell: (row) => row.copyNumber },
      { header: 'vm', cell: (row) => row.vm },
      { header: 'status', cell: (row) => row.status },
      {
        header: 'addresses',
        cell: (row) =>
          Object.entries(row.addresses)
            .map(([network, address]) => `${network}=${address ?? '-'}`)
            .join(' '),
      },
      { header: 'ssh', cell: (row) => row.ssh.command },
      { header: 'keys', cell: (row) => row.sshKeys.map((key) => key.comment ?? key.fingerprint).join(', ') },
      { header: 'trainee keys', cell: (row) => row.traineeApiKeys.map((key) => key.name).join(', ') },
    ]))
      ctx.print(line);
  });

  withJson(
    lab
      .command('extend')
      .description("set how long the lab lives from now (longer or shorter, within the project's TTL quota)")
      .argument('<lab>', 'lab id')
      .argument('<ttl>', 'minutes, hours or days from now, e.g. 90m, 4h, 2d'),
  ).action(async (labId: string, ttl: string, options: { json?: boolean }) => {
    const answer = await ctx
      .client()
      .call<{ id: string; expiresAt: string; previousExpiresAt: string | null }>(
        'PATCH',
        `/labs/${encodeURIComponent(labId)}`,
        { json: { ttl } },
      );
    if (options.json) ctx.printJson(answer);
    else ctx.print(`lab ${answer.id} now expires ${answer.expiresAt} (was ${answer.previousExpiresAt ?? 'never'})`);
  });

  withJson(
    lab
      .command('operations')
      .description("a lab's snapshot, revert and testing-mode operations")
      .argument('<lab>', 'lab id'),
  ).action(async (labId: string, options: { json?: boolean }) => {
    const answer = await ctx
      .client()
      .call<{ items: OperationView[] }>('GET', `/labs/${encodeURIComponent(labId)}/operations`);
    if (options.json) {
      ctx.printJson(answer.items);
      return;
    }
    for (const line of renderTable(answer.items, [
      { header: 'id', cell: (op) => op.id },
      { header: 'kind', cell: (op) => op.kind },
      { header: 'snapshot', cell: (op) => op.snapshot },
      { header: 'status', cell: (op) => op.status },
      { header: 'progress', cell: (op) => `${op.progress.done}/${op.progress.total}` },
      { header: 'started', cell: (op) => op.createdAt },
      { header: 'error', cell: (op) => op.error },
    ]))
      ctx.print(line);
  });

  withJson(
    lab
      .command('testing')
      .description("testing mode: widen the lab's egress for a while (snapshot first), or --stop it now")
      .argument('<lab>', 'lab id')
      .option('--egress <dest>', 'allow, or a destination such as 203.0.113.5:443 (repeat for more)', collect)
      .option('--for <duration>', 'how long, e.g. 30m or 2h (at most 24h)', '1h')
      .option('--network <name>', 'only this network (repeat for more; default: all)', collect)
      .option('--stop', 'end testing mode now')
      .option('--wait', 'follow it until it is in force (or over)'),
  ).action(
    async (
      labId: string,
      options: { egress?: string[]; for: string; network?: string[]; stop?: boolean; wait?: boolean; json?: boolean },
    ) => {
      const path = `/labs/${encodeURIComponent(labId)}/testing`;
      if (options.stop) {
        const started = await ctx.client().call<Started>('DELETE', path);
        await report(ctx, { ...started, labId }, options, 'end of testing mode');
        return;
      }
      if (!options.egress?.length) throw new UsageError('give --egress allow or --egress <destination> (or --stop)');
      const egress =
        options.egress.length === 1 && ['allow', 'deny'].includes(options.egress[0]!)
          ? options.egress[0]
          : options.egress;
      const started = await ctx.client().call<Started>('POST', path, {
        json: { egress, duration: options.for, ...(options.network ? { networks: options.network } : {}) },
      });
      await report(ctx, started, options, 'testing mode');
    },
  );
}

/** `--trainee-key` / `--copy-key` values: inline keys or .pub files. */
export function keyOptions(command: Command): Command {
  return command
    .option(
      '--trainee-key <key|file>',
      "an SSH public key for every copy's trainee VMs (repeatable)",
      (value: string, previous: string[] = []) => [...previous, sshPublicKey(value)],
    )
    .option(
      '--copy-key <key|file>',
      'one SSH public key per copy, in copy order (repeat once per copy)',
      (value: string, previous: string[] = []) => [...previous, sshPublicKey(value)],
    );
}
