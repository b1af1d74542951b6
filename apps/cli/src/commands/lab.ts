import type { Command } from 'commander';
import type { CliContext } from '../context';
import { labSourceOf } from '../lab-source';
import { fieldLines, stepTable, VM_COLUMNS } from '../present';
import { renderTable } from '../table';
import type { LabView } from '../watch/lab-view';
import { watchLab } from '../watch/watch-lab';
import { withJson } from './options';

interface DeployOptions {
  name?: string;
  watch?: boolean;
  dryRun?: boolean;
  json?: boolean;
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
  const source = labSourceOf(argument);
  const client = ctx.client();
  const query = { dryRun: options.dryRun ? 'true' : undefined };
  const body =
    source.kind === 'file'
      ? { yaml: source.text, query }
      : { json: { template: source.id, ...(options.name ? { name: options.name } : {}) }, query };
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
    lab
      .command('deploy')
      .description('deploy a lab from a spec file (YAML or JSON, checked locally first) or a built-in lab id')
      .argument('<file|template>', 'path of a lab spec, or a built-in lab id (see `glassdome lab templates`)')
      .option('--name <name>', 'name of the lab when deploying a built-in lab')
      .option('--watch', 'follow the deployment live until it settles (exit 1 unless it ends ready)')
      .option('--dry-run', 'validate and show the plan without deploying anything'),
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

  registerLabAction(
    lab,
    ctx,
    'cancel',
    'stop a deploying lab (what is done stays until destroyed)',
    'POST',
    (id) => `/labs/${id}/cancel`,
  );
  registerLabAction(
    lab,
    ctx,
    'retry',
    'retry the failed VMs of a failed or degraded lab',
    'POST',
    (id) => `/labs/${id}/retry`,
  );
  registerLabAction(lab, ctx, 'destroy', 'tear down everything the lab owns', 'DELETE', (id) => `/labs/${id}`);
}
