/** `glassdome network …`: the named networks an admin gives a project, which its standalone VMs may join. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { WorkFailedError } from '../errors';
import { renderTable } from '../table';
import { withJson } from './options';
import { pollUntil } from './poll';

interface NetworkView {
  id: string;
  name: string;
  project: string;
  cidr: string | null;
  status: string;
  bridge: string | null;
  error: string | null;
}

export function registerNetworkCommands(program: Command, ctx: CliContext): void {
  const network = program
    .command('network')
    .description("a project's named networks (admins create and delete them; its VMs join with vm create --network)");

  withJson(
    network
      .command('create')
      .description('give a project a network: the gateway makes it a VNet with a leased VLAN tag')
      .argument('<name>', 'network name (lowercase letters, digits, dashes; unique in the project)')
      .requiredOption('--project <project>', 'the project whose VMs may join it')
      .option('--cidr <cidr>', "its addresses, e.g. 10.30.0.0/24 (VMs' static addresses must be inside)")
      .option('--wait', 'wait until the network is ready or failed (exit 1 if failed)'),
  ).action(async (name: string, options: { project: string; cidr?: string; wait?: boolean; json?: boolean }) => {
    const client = ctx.client();
    const body = JSON.parse(JSON.stringify({ name, project: options.project, cidr: options.cidr }));
    let answer = await client.call<NetworkView>('POST', '/networks', { json: body });
    if (options.wait) answer = await pollUntil<NetworkView>(client, `/networks/${answer.id}`, ['ready', 'failed']);
    if (options.json) ctx.printJson(answer);
    else ctx.print(`network ${answer.name} of ${answer.project}: ${answer.status} (${answer.id})`);
    if (answer.status === 'failed') throw new WorkFailedError(`network ${answer.name} failed: ${answer.error}`);
  });

  withJson(network.command('list').description('list the networks of the projects this key sees')).action(
    async (options: { json?: boolean }) => {
      const answer = await ctx.client().call<{ items: NetworkView[] }>('GET', '/networks');
      if (options.json) ctx.printJson(answer.items);
      else
        for (const line of renderTable(answer.items, [
          { header: 'id', cell: (n) => n.id },
          { header: 'project', cell: (n) => n.project },
          { header: 'name', cell: (n) => n.name },
          { header: 'cidr', cell: (n) => n.cidr },
          { header: 'status', cell: (n) => n.status },
          { header: 'bridge', cell: (n) => n.bridge },
        ]))
          ctx.print(line);
    },
  );

  withJson(
    network
      .command('delete')
      .description('delete a network no VM uses any more (its VNet is removed and its tag released)')
      .argument('<id>', 'network id (see network list)'),
  ).action(async (id: string, options: { json?: boolean }) => {
    const answer = await ctx
      .client()
      .call<{ id: string; status: string }>('DELETE', `/networks/${encodeURIComponent(id)}`);
    if (options.json) ctx.printJson(answer);
    else ctx.print(`network ${answer.id}: ${answer.status}`);
  });
}
