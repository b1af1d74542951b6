import type { Command } from 'commander';
import type { CliContext } from '../context';
import { renderTable } from '../table';
import { withJson } from './options';

interface AlertView {
  id: string;
  severity: string;
  state: string;
  kind: string;
  subject: string;
  message: string;
  last_seen_at: string;
}

interface OverseerReport {
  generatedAt: string;
  labsByStatus: Record<string, number>;
  vmsByStatus: Record<string, number>;
  openAlertsBySeverity: Record<string, number>;
  remediations: { at: string; kind: string; message: string }[];
}

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record);
  return entries.length === 0 ? 'none' : entries.map(([key, count]) => `${key} ${count}`).join(', ');
}

function printReport(ctx: CliContext, report: OverseerReport): void {
  ctx.print(`report of ${report.generatedAt}`);
  ctx.print(`labs:         ${counts(report.labsByStatus)}`);
  ctx.print(`vms:          ${counts(report.vmsByStatus)}`);
  ctx.print(`open alerts:  ${counts(report.openAlertsBySeverity)}`);
  ctx.print(`remediations in the last 24 h: ${report.remediations.length}`);
  for (const event of report.remediations) ctx.print(`  ${event.at} ${event.kind} ${event.message}`);
}

export function registerOverseerCommands(program: Command, ctx: CliContext): void {
  withJson(
    program
      .command('alerts')
      .description("list the overseer's alerts, or acknowledge one with --ack")
      .option('--ack <id>', 'acknowledge this open alert')
      .option('--state <state>', 'only alerts in this state (open, acknowledged, resolved)')
      .option('--severity <severity>', 'only alerts of this severity (info, warning, critical)'),
  ).action(async (options: { ack?: string; state?: string; severity?: string; json?: boolean }) => {
    const client = ctx.client();
    if (options.ack) {
      const acknowledged = await client.call<AlertView>('POST', `/alerts/${encodeURIComponent(options.ack)}/ack`);
      if (options.json) ctx.printJson(acknowledged);
      else ctx.print(`alert ${acknowledged.id}: ${acknowledged.state}`);
      return;
    }
    const answer = await client.call<{ items: AlertView[] }>('GET', '/alerts', {
      query: { state: options.state, severity: options.severity },
    });
    if (options.json) ctx.printJson(answer.items);
    else
      for (const line of renderTable(answer.items, [
        { header: 'id', cell: (a) => a.id },
        { header: 'severity', cell: (a) => a.severity },
        { header: 'state', cell: (a) => a.state },
        { header: 'kind', cell: (a) => a.kind },
        { header: 'subject', cell: (a) => a.subject },
        { header: 'last seen', cell: (a) => a.last_seen_at },
        { header: 'message', cell: (a) => a.message },
      ]))
        ctx.print(line);
  });

  const overseer = program.command('overseer').description("the overseer's view of the range");
  withJson(overseer.command('report').description('labs and VMs by state, open alerts, recent remediations')).action(
    async (options: { json?: boolean }) => {
      const report = await ctx.client().call<OverseerReport>('GET', '/overseer/report');
      if (options.json) ctx.printJson(report);
      else printReport(ctx, report);
    },
  );
}
