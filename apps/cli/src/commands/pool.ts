/**
 * `glassdome pool …`: warm pools of ready lab copies. `create` from a catalog lab or a saved spec,
 * `claim` hands one copy over at once (name, TTL, trainee keys), `resize`/`drain`/`delete`, and
 * `schedule` pre-warms a pool for a class at a cron time or once at a given time.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { UsageError } from '../errors';
import { fieldLines } from '../present';
import { renderTable } from '../table';
import { keyOptions } from './exercise';
import { withJson } from './options';

interface PoolView {
  id: string;
  name: string;
  project: string;
  size: number;
  status: string;
  source: unknown;
  copies: { total: number; ready: number; byStatus: Record<string, number> };
  claimLatencyMs: { samples: number; p50: number | null; max: number | null; last: number | null };
  members?: { labId: string; name: string; status: string }[];
  schedules?: { id: string; kind: string; size: number; cron?: string; next?: string | null }[];
}

function nonNegative(value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${value}: must be a whole number ≥ 0`);
  return Number(value);
}

function sourceOf(pool: PoolView): string {
  const source = (pool.source ?? {}) as { template?: string; spec?: string; version?: number };
  if (source.template) return `template ${source.template}`;
  return `spec ${source.spec}${source.version ? ` v${source.version}` : ''}`;
}

function printPool(ctx: CliContext, pool: PoolView): void {
  for (const line of fieldLines({
    id: pool.id,
    name: pool.name,
    project: pool.project,
    source: sourceOf(pool),
    status: pool.status,
    size: pool.size,
    ready: pool.copies.ready,
    copies: Object.entries(pool.copies.byStatus)
      .map(([status, count]) => `${count} ${status}`)
      .join(', '),
    'claim ms': pool.claimLatencyMs.samples
      ? `last ${pool.claimLatencyMs.last}, median ${pool.claimLatencyMs.p50}, max ${pool.claimLatencyMs.max} (${pool.claimLatencyMs.samples} claims)`
      : undefined,
  }))
    ctx.print(line);
  for (const schedule of pool.schedules ?? []) {
    ctx.print(
      `schedule ${schedule.id}: size ${schedule.size} ${schedule.cron ?? 'once'} (next ${schedule.next ?? '-'})`,
    );
  }
}

export function registerPoolCommands(program: Command, ctx: CliContext): void {
  const pool = program.command('pool').description('warm pools: lab copies deployed ahead, claimed in a second');

  withJson(
    keyOptions(
      pool
        .command('create')
        .description(
          'create a pool from a catalog lab (--template) or a saved spec (--spec); it fills in the background',
        )
        .argument('<name>', 'pool name')
        .option('--template <id>', 'a catalog lab (see glassdome lab templates)')
        .option('--spec <name>', 'a saved spec of the project (see /lab-specs)')
        .option('--size <n>', 'copies to keep ready', nonNegative, 1)
        .option('--ttl <duration>', "each copy's TTL once claimed, e.g. 4h (default: the lab's)"),
    ),
  ).action(
    async (
      name: string,
      options: {
        template?: string;
        spec?: string;
        size: number;
        ttl?: string;
        traineeKey?: string[];
        copyKey?: string[];
        json?: boolean;
      },
    ) => {
      if (!options.template === !options.spec) throw new UsageError('give exactly one of --template or --spec');
      const parameters = {
        ...(options.ttl ? { ttl: options.ttl } : {}),
        ...(options.traineeKey ? { traineeKeys: options.traineeKey } : {}),
        ...(options.copyKey ? { copyKeys: options.copyKey } : {}),
      };
      const answer = await ctx.client().call<PoolView>('POST', '/pools', {
        json: {
          name,
          ...(options.template ? { template: options.template } : { spec: options.spec }),
          size: options.size,
          ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
        },
      });
      if (options.json) ctx.printJson(answer);
      else ctx.print(`pool ${answer.name} created (${answer.id}); filling to ${answer.size}`);
    },
  );

  withJson(pool.command('list').description('pools with their ready copies')).action(
    async (options: { json?: boolean }) => {
      const answer = await ctx.client().call<{ items: PoolView[] }>('GET', '/pools');
      if (options.json) {
        ctx.printJson(answer.items);
        return;
      }
      for (const line of renderTable(answer.items, [
        { header: 'name', cell: (p) => p.name },
        { header: 'source', cell: (p) => sourceOf(p) },
        { header: 'status', cell: (p) => p.status },
        { header: 'ready', cell: (p) => `${p.copies.ready}/${p.size}` },
        { header: 'copies', cell: (p) => p.copies.total },
        { header: 'last claim ms', cell: (p) => p.claimLatencyMs.last },
      ]))
        ctx.print(line);
    },
  );

  withJson(
    pool.command('show').description('a pool: copies, claims, schedules').argument('<pool>', 'pool name or id'),
  ).action(async (name: string, options: { json?: boolean }) => {
    const answer = await ctx.client().call<PoolView>('GET', `/pools/${encodeURIComponent(name)}`);
    if (options.json) ctx.printJson(answer);
    else printPool(ctx, answer);
  });

  withJson(
    keyOptions(
      pool
        .command('claim')
        .description('take a ready copy now: renamed, TTL started, the trainee keys on its guests')
        .argument('<pool>', 'pool name or id')
        .option('--name <name>', "the lab's name (default: the copy's)")
        .option('--ttl <duration>', 'how long it lives from now, e.g. 4h')
        .option('--project <project>', 'the project it goes to (admins)'),
    ),
  ).action(
    async (
      name: string,
      options: {
        name?: string;
        ttl?: string;
        project?: string;
        traineeKey?: string[];
        copyKey?: string[];
        json?: boolean;
      },
    ) => {
      const answer = await ctx
        .client()
        .call<{ labId: string; name: string; expiresAt: string; claimMs: number }>(
          'POST',
          `/pools/${encodeURIComponent(name)}/claim`,
          {
            json: {
              ...(options.name ? { name: options.name } : {}),
              ...(options.ttl ? { ttl: options.ttl } : {}),
              ...(options.project ? { project: options.project } : {}),
              ...(options.traineeKey ? { traineeKeys: options.traineeKey } : {}),
              ...(options.copyKey ? { copyKeys: options.copyKey } : {}),
            },
          },
        );
      if (options.json) ctx.printJson(answer);
      else
        ctx.print(
          `claimed lab ${answer.name} (${answer.labId}) in ${answer.claimMs} ms; expires ${answer.expiresAt}; roster: glassdome lab roster ${answer.labId}`,
        );
    },
  );

  withJson(
    pool
      .command('resize')
      .description('keep this many copies ready')
      .argument('<pool>', 'pool name or id')
      .argument('<size>', 'copies', nonNegative),
  ).action(async (name: string, size: number, options: { json?: boolean }) => {
    const answer = await ctx
      .client()
      .call<PoolView>('PATCH', `/pools/${encodeURIComponent(name)}`, { json: { size, status: 'active' } });
    if (options.json) ctx.printJson(answer);
    else ctx.print(`pool ${answer.name}: size ${answer.size}`);
  });

  withJson(
    pool
      .command('drain')
      .description('tear down the unclaimed copies and deploy no more')
      .argument('<pool>', 'pool name or id'),
  ).action(async (name: string, options: { json?: boolean }) => {
    const answer = await ctx
      .client()
      .call<PoolView>('PATCH', `/pools/${encodeURIComponent(name)}`, { json: { status: 'draining' } });
    if (options.json) ctx.printJson(answer);
    else ctx.print(`pool ${answer.name}: draining`);
  });

  withJson(
    pool
      .command('delete')
      .description('delete a pool and the copies it still holds')
      .argument('<pool>', 'pool name or id'),
  ).action(async (name: string, options: { json?: boolean }) => {
    const answer = await ctx
      .client()
      .call<{ name: string; copiesTornDown: number }>('DELETE', `/pools/${encodeURIComponent(name)}`);
    if (options.json) ctx.printJson(answer);
    else ctx.print(`pool ${answer.name} deleted; ${answer.copiesTornDown} unclaimed copies torn down`);
  });

  withJson(
    pool
      .command('schedule')
      .description('pre-warm: set the pool to --size at a cron time (--cron) or once (--at)')
      .argument('<pool>', 'pool name or id')
      .requiredOption('--size <n>', 'the size it takes then', nonNegative)
      .option('--cron <pattern>', 'repeating, e.g. "30 8 * * 1" (08:30 every Monday)')
      .option('--tz <zone>', 'time zone of the cron pattern, e.g. Europe/Paris')
      .option('--at <time>', 'once, at an ISO time such as 2026-09-07T08:30:00+02:00'),
  ).action(async (name: string, options: { size: number; cron?: string; tz?: string; at?: string; json?: boolean }) => {
    if (!options.cron === !options.at) throw new UsageError('give exactly one of --cron or --at');
    const answer = await ctx
      .client()
      .call<{ id: string; next?: string | null }>('POST', `/pools/${encodeURIComponent(name)}/schedules`, {
        json: {
          size: options.size,
          ...(options.cron ? { cron: options.cron, ...(options.tz ? { tz: options.tz } : {}) } : { at: options.at }),
        },
      });
    if (options.json) ctx.printJson(answer);
    else ctx.print(`schedule ${answer.id}: next ${answer.next ?? '-'}`);
  });

  withJson(
    pool
      .command('unschedule')
      .description('remove a pre-warm schedule')
      .argument('<pool>', 'pool name or id')
      .argument('<schedule>', 'schedule id'),
  ).action(async (name: string, schedule: string, options: { json?: boolean }) => {
    const answer = await ctx
      .client()
      .call('DELETE', `/pools/${encodeURIComponent(name)}/schedules/${encodeURIComponent(schedule)}`);
    if (options.json) ctx.printJson(answer);
    else ctx.print(`schedule ${schedule} removed`);
  });
}
