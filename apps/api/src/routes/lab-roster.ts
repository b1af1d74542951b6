/**
 * `GET /labs/:id/roster`: the class list of a lab, one row per copy × VM — the copy's number, the
 * VM, its address on each lab network, the SSH command that reaches it (management address, port,
 * login user), the SSH keys it accepts (fingerprints and comments, never Glassdome's own) and the
 * trainee API keys of that copy (name and prefix). JSON, or CSV with `Accept: text/csv` or
 * `?format=csv`. A trainee sees its own copy's rows.
 */
import { createHash } from 'node:crypto';
import { listApiKeys, listVmsOfLab } from '@glassdome/db';
import { type Request, Router } from 'express';
import { scopeOf } from '../auth/middleware';
import type { ApiContext } from '../context';
import { rosterQuery } from '../exercise-schemas';
import { parseInput } from '../http/validate';
import { visibleLab } from '../services/exercises';

interface StoredSpecView {
  networks?: { name: string; ip?: string }[];
  cloudInit?: { user?: string; sshKeys?: string[] };
}

/** `SHA256:…` of an OpenSSH public key line, and its comment. */
function describeKey(line: string) {
  const [type, blob, ...comment] = line.trim().split(/\s+/);
  const fingerprint = blob
    ? `SHA256:${createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')}`
    : null;
  return { type: type ?? '', fingerprint, comment: comment.join(' ') || null };
}

function sshCommand(user: string | undefined, host: string | null, port: number): string | null {
  if (!host || !user) return null;
  return `ssh ${port === 22 ? '' : `-p ${port} `}${user}@${host}`;
}

export async function labRoster(ctx: ApiContext, req: Request) {
  const lab = await visibleLab(ctx, req);
  const vms = await listVmsOfLab(ctx.db, lab.id, scopeOf(req));
  const traineeKeys = (await listApiKeys(ctx.db, lab.project)).filter(
    (key) => key.lab_id === lab.id && key.revoked_at === null,
  );
  const rows = vms
    .filter((vm) => vm.status !== 'destroyed')
    .map((vm) => {
      const spec = (vm.spec ?? {}) as StoredSpecView;
      const copy = vm.copy ?? 0;
      const user = spec.cloudInit?.user;
      return {
        copy,
        copyNumber: copy + 1,
        label: `copy ${copy + 1}`,
        vm: vm.name,
        vmId: vm.id,
        status: vm.status,
        os: vm.os,
        addresses: Object.fromEntries((spec.networks ?? []).map((network) => [network.name, network.ip ?? null])),
        management: vm.ip,
        ssh: {
          host: vm.ip,
          port: ctx.guestSshPort,
          user: user ?? null,
          command: sshCommand(user, vm.ip, ctx.guestSshPort),
        },
        sshKeys: (spec.cloudInit?.sshKeys ?? []).map(describeKey),
        traineeApiKeys: traineeKeys
          .filter((key) => key.copy === copy)
          .map((key) => ({ id: key.id, name: key.name, prefix: key.prefix })),
      };
    });
  return { labId: lab.id, name: lab.name, status: lab.status, copies: lab.copies, expiresAt: lab.expires_at, rows };
}

type Roster = Awaited<ReturnType<typeof labRoster>>;

function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One line per row; addresses as `net=addr` pairs and keys as comments or fingerprints, `;`-separated. */
export function rosterCsv(roster: Roster): string {
  const header = [
    'copy',
    'vm',
    'status',
    'os',
    'addresses',
    'management',
    'user',
    'ssh',
    'ssh keys',
    'trainee api keys',
  ];
  const lines = roster.rows.map((row) =>
    [
      row.copyNumber,
      row.vm,
      row.status,
      row.os,
      Object.entries(row.addresses)
        .map(([network, address]) => `${network}=${address ?? ''}`)
        .join('; '),
      row.management,
      row.ssh.user,
      row.ssh.command,
      row.sshKeys.map((key) => key.comment ?? key.fingerprint).join('; '),
      row.traineeApiKeys.map((key) => `${key.name} (${key.prefix}…)`).join('; '),
    ]
      .map(csvField)
      .join(','),
  );
  return `${[header.map(csvField).join(','), ...lines].join('\r\n')}\r\n`;
}

export function labRosterRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.get('/labs/:id/roster', async (req, res) => {
    const query = parseInput(rosterQuery, req.query, 'query');
    const roster = await labRoster(ctx, req);
    const csv =
      query.format === 'csv' || (query.format === undefined && req.accepts(['json', 'text/csv']) === 'text/csv');
    if (csv) {
      res.type('text/csv').attachment(`${roster.name}-roster.csv`).send(rosterCsv(roster));
      return;
    }
    res.json(roster);
  });
  return router;
}
