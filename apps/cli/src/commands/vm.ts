import { OS_NAMES, parseVmRequest } from '@glassdome/lab';
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { UsageError, WorkFailedError } from '../errors';
import { formatProblems } from '../format-error';
import { fieldLines, stepTable, VM_COLUMNS, type VmView } from '../present';
import { renderTable } from '../table';
import { collect, positiveInteger, sshPublicKey, withJson } from './options';
import { pollUntil } from './poll';

interface CreateOptions {
  name: string;
  os: string;
  template?: string;
  cpus?: number;
  memory?: number;
  disk?: number;
  user?: string;
  sshKey?: string[];
  package?: string[];
  run?: string[];
  network?: string;
  ip?: string;
  wait?: boolean;
  json?: boolean;
}

/** The request body `vm create` sends, checked locally first so a bad flag fails before any network call. */
export function vmRequestFromFlags(options: CreateOptions): Record<string, unknown> {
  const cloudInit =
    options.user || options.sshKey || options.package
      ? { user: options.user, sshKeys: options.sshKey, packages: options.package }
      : undefined;
  const body = {
    name: options.name,
    os: options.os,
    // A template given by VMID is a number; anything else is a template's name.
    template:
      options.template !== undefined && /^\d+$/.test(options.template) ? Number(options.template) : options.template,
    cpus: options.cpus,
    memoryMiB: options.memory,
    diskGiB: options.disk,
    cloudInit,
    provision: options.run?.map((run) => ({ run })),
    network: options.network || options.ip ? { name: options.network, ip: options.ip } : undefined,
  };
  // The API's schemas are strict: flags left out must be absent keys, not `undefined` values.
  const clean = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
  const parsed = parseVmRequest(clean);
  if (!parsed.ok) {
    const problems = parsed.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    throw new UsageError(`the VM request is invalid: ${formatProblems(problems)}`);
  }
  return clean;
}

const VM_FINAL = ['ready', 'failed', 'destroyed'];

async function createVm(ctx: CliContext, options: CreateOptions): Promise<void> {
  const body = vmRequestFromFlags(options);
  const client = ctx.client();
  const accepted = await client.call<{ id: string; status: string; jobId: string }>('POST', '/vms', { json: body });
  if (!options.wait) {
    if (options.json) ctx.printJson(accepted);
    else ctx.print(`VM ${options.name} queued: ${accepted.id} (follow it with: glassdome vm show ${accepted.id})`);
    return;
  }
  if (!options.json) ctx.note(`VM ${options.name} queued as ${accepted.id}; waiting for it to be ready…`);
  const vm = await pollUntil<VmView>(client, `/vms/${accepted.id}`, VM_FINAL, (seen) => {
    if (!options.json) ctx.note(`${seen.name}: ${seen.status}`);
  });
  if (options.json) ctx.printJson(vm);
  else ctx.print(`VM ${vm.name} ${vm.status}${vm.ip ? ` at ${vm.ip}` : ''} (${vm.id})`);
  if (vm.status !== 'ready') throw new WorkFailedError(`VM ${vm.name} ${vm.status}: ${vm.error ?? 'no reason given'}`);
}

function printVm(ctx: CliContext, vm: VmView): void {
  const fields = { id: vm.id, name: vm.name, os: vm.os, status: vm.status, node: vm.node, vmid: vm.vmid, ip: vm.ip };
  for (const line of fieldLines({ ...fields, ...(vm.labId ? { lab: vm.labId } : {}), error: vm.error }))
    ctx.print(line);
  ctx.print();
  for (const line of stepTable(vm.steps)) ctx.print(line);
}

export function registerVmCommands(program: Command, ctx: CliContext): void {
  const vm = program.command('vm').description('deploy, inspect and destroy single VMs');

  withJson(
    vm
      .command('create')
      .description('deploy one VM from a template')
      .requiredOption('--name <name>', 'VM name (letters, digits, dashes)')
      .requiredOption('--os <os>', `operating system: ${OS_NAMES.join(', ')}`)
      .option('--template <ref>', "clone this template instead of the OS's default one")
      .option('--cpus <n>', 'virtual CPUs (default: from the OS profile)', positiveInteger)
      .option('--memory <MiB>', 'memory in MiB (default: from the OS profile)', positiveInteger)
      .option('--disk <GiB>', 'disk size in GiB (default: from the OS profile)', positiveInteger)
      .option('--user <name>', 'cloud-init user to create')
      .option(
        '--ssh-key <key|file>',
        'public key for the user, inline or a .pub file (repeatable)',
        (value, previous?: string[]) => collect(sshPublicKey(value), previous),
      )
      .option('--package <name>', 'package to install at first boot (repeatable)', collect)
      .option('--run <command>', 'command to run once the VM is up (repeatable, in order)', collect)
      .option('--network <name>', "a named network of the VM's project to join (see network list)")
      .option('--ip <address/prefix>', 'a static address, e.g. 10.30.0.10/24 (default: DHCP)')
      .option('--wait', 'wait until the VM is ready or failed (exit 1 if failed)'),
  ).action((options: CreateOptions) => createVm(ctx, options));

  withJson(vm.command('list').description('list standalone VMs'))
    .option('--status <status>', 'only VMs in this state (queued, deploying, ready, failed, destroying, destroyed)')
    .action(async (options: { status?: string; json?: boolean }) => {
      const answer = await ctx.client().call<{ items: VmView[] }>('GET', '/vms', { query: { status: options.status } });
      if (options.json) ctx.printJson(answer.items);
      else for (const line of renderTable(answer.items, VM_COLUMNS)) ctx.print(line);
    });

  withJson(
    vm.command('show').description('show a VM with its steps and their timings').argument('<id>', 'VM id'),
  ).action(async (id: string, options: { json?: boolean }) => {
    const answer = await ctx.client().call<VmView>('GET', `/vms/${encodeURIComponent(id)}`);
    if (options.json) ctx.printJson(answer);
    else printVm(ctx, answer);
  });

  withJson(
    vm.command('destroy').description('destroy a standalone VM (a lab VM goes with its lab)').argument('<id>', 'VM id'),
  ).action(async (id: string, options: { json?: boolean }) => {
    const answer = await ctx.client().call<{ id: string; status: string }>('DELETE', `/vms/${encodeURIComponent(id)}`);
    if (options.json) ctx.printJson(answer);
    else ctx.print(`VM ${answer.id}: ${answer.status}`);
  });
}
