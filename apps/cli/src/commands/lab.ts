import type { Command } from 'commander';
import type { CliContext } from '../context';
import { UsageError } from '../errors';
import { labSourceOf } from '../lab-source';
import { fieldLines, stepTable, VM_COLUMNS } from '../present';
import { renderTable } from '../table';
import type { LabView } from '../watch/lab-view';
import { watchLab } from '../watch/watch-lab';
import { keyOptions, registerLabExerciseCommands } from './exercise';
import { positiveInteger, withJson } from './options';

interface DeployOptions {
  name?: string;
  watch?: boolean;
  dryRun?: boolean;
  json?: boolean;
  saved?: boolean;
  version?: number;
  copies?: number;
  ttl?: string;
  traineeKey?: string[];
  copyKey?: string[];
  set?: string[];
}

/** `--set attacker.memoryMiB=8192` → {attacker: {memoryMiB: 8192}}. */
function sizeParameters(settings: readonly string[] = []): Record<string, Record<string, number>> {
  const vms: Record<string, Record<string, number>> = {};
  for (const setting of settings) {
    const match = /^([a-z0-9-]+)\.(cpus|memoryMiB|diskGiB)=(\d+)$/.exec(setting);
    if (!match) throw new UsageError(`--set ${setting}: must be VM.cpus=N, VM.memoryMiB=N or VM.diskGiB=N`);
    vms[match[1]!] = { ...vms[match[1]!], [match[2]!]: Number(match[3]) };
  }
  return vms;
}

/** The parameters a deploy by reference carries (catalog lab or saved spec). */
function parametersOf(options: DeployOptions) {
  const vms = sizeParameters(options.set);
  return {
    ...(options.copies ? { copies: options.copies } : {}),
    ...(options.ttl ? { ttl: options.ttl } : {}),
    ...(options.traineeKey ? { traineeKeys: options.traineeKey } : {}),
    ...(options.copyKey ? { copyKeys: options.copyKey } : {}),
    ...(Object.keys(vms).length > 0 ? { vms } : {}),
  };
}

interface LabSummary {
  id: string;
  name: string;
  status: string;
  copies: number;
  expiresAt?: string | null;
  createdAt: string;
}

const LAB_COLUMNS = [
  { header: 'id', cell: (lab: LabSummary) => lab.id },
  { header: 'name', cell: (lab: LabSummary) => lab.name },
  { header: 'status', cell: (lab: LabSummary) => lab.status },
  { header: 'copies', cell: (lab: LabSummary) => lab.copies },
  { header: 'expires', cell: (lab: LabSummary) => lab.expiresAt },
];

async function deployLab(ctx: CliContext, argument: string, options: DeployOptions): Promise<void> {
  const source = options.saved ? undefined : labSourceOf(argument);
  const client = ctx.client();
  const query = { dryRun: options.dryRun ? 'true' : undefined };
  const parameters = parametersOf(options);
  const reference =
    source?.kind === 'template'
      ? { template: source.id }
      : { spec: argument, ...(options.version ? { version: options.version } : {}) };
  if (source?.kind === 'file' && Object.keys(parameters).length > 0) {
    throw new UsageError(
      '--copies, --ttl, --trainee-key, --copy-key and --set apply to a built-in lab or a saved spec (--saved)',
    );
  }
  const body =
    source?.kind === 'file'
      ? { yaml: source.text, query }
      : {
          json: {
            ...reference,
            ...(options.name ? { name: options.name } : {}),
            ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
          },
          query,
        };
  const answer = await client.call<{ id: string; status: string }>('POST', '/labs', body);
  if (options.dryRun) {
    if (options.json) ctx.printJson(answer);
    else ctx.print(`the lab spec is valid; plan:\n${JSON.stringify(answer, null, 2)}`);
    return;
  }
  if (!options.watch) {
    if (options.json) ctx.printJson(answer);
    else ctx.print(`lab queued: ${answer.id} (follow it with: glassdome lab watch ${answer.id})`);
    return;
  }
  if (!options.json) ctx.note(`lab queued: ${answer.id}; watching (Ctrl-C detaches, the lab keeps deploying)`);
  await watchLab(ctx, client, answer.id, options.json === true);
}

function printLab(ctx: CliContext, lab: LabView): void {
  const fields = {
    id: lab.id,
    name: lab.name,
    status: lab.status,
    copies: lab.copies,
    expires: lab.expiresAt,
    error: lab.error,
  };
  for (const line of fieldLines(fields)) ctx.print(line);
  ctx.print();
  for (const line of renderTable(lab.vms, VM_COLUMNS)) ctx.print(line);
  for (const vm of lab.vms) {
    ctx.print();
    ctx.print(`${vm.name}:`);
    for (const line of stepTable(vm.steps)) ctx.print(`  ${line}`);
  }
}

/** `lab cancel|retry|destroy <id>`: one POST/DELETE, one line (or JSON) back. */
function registerLabAction(
  lab: Command,
  ctx: CliContext,
  name: string,
  description: string,
  method: string,
  path: (id: string) => string,
) {
  withJson(lab.command(name).description(description).argument('<id>', 'lab id')).action(
    async (id: string, options: { json?: boolean }) => {
      const answer = await ctx.client().call<{ id: string; status: string }>(method, path(encodeURIComponent(id)));
      if (options.json) ctx.printJson(answer);
      else ctx.print(`lab ${answer.id}: ${answer.status}`);
    },
  );
}

export function registerLabCommands(program: Command, ctx: CliContext): void {
  const lab = program.command('lab').description('deploy and manage multi-VM labs');

  withJson(
    keyOptions(lab.command('deploy'))
      .description('deploy a lab from a spec file (YAML or JSON, checked locally first) or a built-in lab id')
      .argument('<file|template>', 'path of a lab spec, or a built-in lab id (see `glassdome lab templates`)')
      .option('--name <name>', 'name of the lab when deploying a built-in lab')
      .option('--watch', 'follow the deployment live until it settles (exit 1 unless it ends ready)')
      .option('--dry-run', 'validate and show the plan without deploying anything')
      .option('--saved', 'the argument names a saved spec of the project (see /lab-specs)')
      .option('--version <n>', 'with --saved: this version (default: the newest)', positiveInteger)
      .option('--copies <n>', 'built-in lab or saved spec: independent copies, one per trainee', positiveInteger)
      .option('--ttl <duration>', 'built-in lab or saved spec: how long it lives, e.g. 4h')
      .option(
        '--set <vm.size=n>',
        'built-in lab or saved spec: a VM size within its bounds, e.g. attacker.memoryMiB=8192 (repeatable)',
        (value: string, previous: string[] = []) => [...previous, value],
      ),
  ).action((argument: string, options: DeployOptions) => deployLab(ctx, argument, options));

  withJson(lab.command('watch').description('follow a lab live until it settles').argument('<id>', 'lab id')).action(
    (id: string, options: { json?: boolean }) => watchLab(ctx, ctx.client(), id, options.json === true),
  );

  withJson(lab.command('list').description('list labs'))
    .option('--status <status>', 'only labs in this state (queued, deploying, ready, degraded, failed, cancelled, …)')
    .action(async (options: { status?: string; json?: boolean }) => {
      const answer = await ctx
        .client()
        .call<{ items: LabSummary[] }>('GET', '/labs', { query: { status: options.status } });
      if (options.json) ctx.printJson(answer.items);
      else for (const line of renderTable(answer.items, LAB_COLUMNS)) ctx.print(line);
    });

  withJson(
    lab.command('show').description('show a lab with its VMs and their steps').argument('<id>', 'lab id'),
  ).action(async (id: string, options: { json?: boolean }) => {
    const answer = await ctx.client().call<LabView>('GET', `/labs/${encodeURIComponent(id)}`);
    if (options.json) ctx.printJson(answer);
    else printLab(ctx, answer);
  });

  withJson(lab.command('templates').description('list the built-in labs `lab deploy` accepts by id')).action(
    async (options: { json?: boolean }) => {
      const answer = await ctx
        .client()
        .call<{ items: { id: string; title: string; vmCount: number }[] }>('GET', '/lab-templates');
      if (options.json) ctx.printJson(answer.items);
      else
        for (const line of renderTable(answer.items, [
          { header: 'id', cell: (entry) => entry.id },
          { header: 'vms', cell: (entry) => entry.vmCount },
          { header: 'title', cell: (entry) => entry.title },
        ]))
          ctx.print(line);
    },
  );

  withJson(
    lab
      .command('cancel')
      .description('stop a deploying lab: nothing stays deploying; its VMs are kept until it is destroyed')
      .argument('<id>', 'lab id')
      .option('--destroy-vms', 'delete its VMs now instead of keeping them'),
  ).action(async (id: string, options: { destroyVms?: boolean; json?: boolean }) => {
    const answer = await ctx
      .client()
      .call<{ id: string; status: string; vms: string }>('POST', `/labs/${encodeURIComponent(id)}/cancel`, {
        query: { destroyVms: options.destroyVms ? 'true' : undefined },
      });
    if (options.json) ctx.printJson(answer);
    else ctx.print(`lab ${answer.id}: ${answer.status} (VMs ${answer.vms})`);
  });
  registerLabAction(
    lab,
    ctx,
    'retry',
    'retry the failed VMs of a failed or degraded lab',
    'POST',
    (id) => `/labs/${id}/retry`,
  );
  registerLabAction(lab, ctx, 'destroy', 'tear down everything the lab owns', 'DELETE', (id) => `/labs/${id}`);
  registerLabExerciseCommands(lab, ctx);
}
