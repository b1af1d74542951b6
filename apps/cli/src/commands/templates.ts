import { OS_NAMES } from '@glassdome/lab';
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { renderTable } from '../table';
import { positiveInteger, withJson } from './options';

interface TemplateView {
  id: string;
  os: string;
  node: string;
  vmid: number;
  status: string;
  error?: string | null;
}

export function registerTemplateCommands(program: Command, ctx: CliContext): void {
  const templates = program.command('templates').description('OS templates VMs are cloned from');

  withJson(
    templates
      .command('create')
      .description('build an OS template on a node (done by the gateway over SSH)')
      .requiredOption('--os <os>', `operating system: ${OS_NAMES.join(', ')}`)
      .option('--node <node>', "node to build it on (default: the API's PROXMOX_NODE)")
      .option('--vmid <vmid>', 'VMID of the template (default: 9000 + the OS position)', positiveInteger),
  ).action(async (options: { os: string; node?: string; vmid?: number; json?: boolean }) => {
    const answer = await ctx.client().call<{ id: string; status: string; jobId: string }>('POST', '/templates', {
      json: { os: options.os, node: options.node, vmid: options.vmid },
    });
    if (options.json) ctx.printJson(answer);
    else ctx.print(`template ${options.os} queued: ${answer.id} (job ${answer.jobId})`);
  });

  withJson(
    templates
      .command('retry')
      .description('build a failed template again (a new gateway job; what the failed build left is cleaned up)')
      .argument('<id>', 'template id (see templates list)'),
  ).action(async (id: string, options: { json?: boolean }) => {
    const answer = await ctx
      .client()
      .call<{ id: string; status: string; jobId: string }>('POST', `/templates/${encodeURIComponent(id)}/retry`);
    if (options.json) ctx.printJson(answer);
    else ctx.print(`template ${answer.id} queued again (job ${answer.jobId})`);
  });

  withJson(
    templates
      .command('delete')
      .description('delete a failed template, so that a new one can be requested for its OS')
      .argument('<id>', 'template id (see templates list)'),
  ).action(async (id: string, options: { json?: boolean }) => {
    await ctx.client().call('DELETE', `/templates/${encodeURIComponent(id)}`);
    if (options.json) ctx.printJson({ id, deleted: true });
    else ctx.print(`template ${id} deleted`);
  });

  withJson(templates.command('list').description('list known templates and their build state')).action(
    async (options: { json?: boolean }) => {
      const answer = await ctx.client().call<{ items: TemplateView[] }>('GET', '/templates');
      if (options.json) ctx.printJson(answer.items);
      else
        for (const line of renderTable(answer.items, [
          { header: 'id', cell: (t) => t.id },
          { header: 'os', cell: (t) => t.os },
          { header: 'node', cell: (t) => t.node },
          { header: 'vmid', cell: (t) => t.vmid },
          { header: 'status', cell: (t) => t.status },
          { header: 'error', cell: (t) => t.error },
        ]))
          ctx.print(line);
    },
  );
}
