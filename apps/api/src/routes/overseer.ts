import {
  acknowledgeAlert,
  countLabsByStatus,
  countOpenAlertsBySeverity,
  countVmsByStatus,
  getAlert,
  listAlerts,
  listRecentEventsOfKind,
  listTemplates,
  listVmInventory,
} from '@glassdome/db';
import { Router } from 'express';
import { scopeOf } from '../auth/middleware';
import type { ApiContext } from '../context';
import { ConflictError, NotFoundError } from '../errors';
import { parseInput } from '../http/validate';
import { alertListQuery, emptyQuery, idParams } from '../schemas';

const DAY_MS = 24 * 3600 * 1000;

function byKey<K extends string>(rows: ({ count: number } & Record<K, string>)[], key: K): Record<string, number> {
  return Object.fromEntries(rows.map((row) => [row[key], Number(row.count)]));
}

/** Views over what the overseer records (observed state, alerts, remediation events); read as the tables hold them. */
export function overseerRoutes(ctx: ApiContext): Router {
  const router = Router();

  router.get('/inventory', async (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    const scope = scopeOf(req);
    const [vms, templates] = await Promise.all([listVmInventory(ctx.db, scope), listTemplates(ctx.db, scope)]);
    res.json({
      vms: vms.map((vm) => ({
        id: vm.id,
        name: vm.name,
        labId: vm.lab_id,
        copy: vm.copy,
        node: vm.node,
        vmid: vm.vmid,
        ip: vm.ip,
        status: vm.status,
        desiredState: vm.desired_state,
        observedStatus: vm.observed_status,
        observedAt: vm.observed_at,
      })),
      templates: templates.map((t) => ({ id: t.id, os: t.os, node: t.node, vmid: t.vmid, status: t.status })),
    });
  });

  router.get('/alerts', async (req, res) => {
    const query = parseInput(alertListQuery, req.query, 'query');
    const { items, nextCursor } = await listAlerts(ctx.db, query, scopeOf(req));
    res.json({ items, limit: query.limit, offset: query.offset, nextCursor });
  });

  router.post('/alerts/:id/ack', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    const scope = scopeOf(req);
    const acknowledged = await acknowledgeAlert(ctx.db, id, req.principal!.name, scope);
    if (acknowledged) {
      res.json(acknowledged);
      return;
    }
    const alert = await getAlert(ctx.db, id, scope);
    if (!alert) throw new NotFoundError('alert');
    throw new ConflictError(`the alert is ${alert.state}, not open`);
  });

  router.get('/overseer/report', async (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    const since = new Date(Date.now() - DAY_MS);
    const scope = scopeOf(req);
    const [labs, vms, alerts, remediations] = await Promise.all([
      countLabsByStatus(ctx.db, scope),
      countVmsByStatus(ctx.db, scope),
      countOpenAlertsBySeverity(ctx.db, scope),
      listRecentEventsOfKind(ctx.db, 'remediation.', since, 500, scope),
    ]);
    res.json({
      generatedAt: new Date(),
      labsByStatus: byKey(labs, 'status'),
      vmsByStatus: byKey(vms, 'status'),
      openAlertsBySeverity: byKey(alerts, 'severity'),
      remediations: remediations.map((event) => ({
        id: event.id,
        at: event.at,
        kind: event.kind,
        message: event.message,
        labId: event.lab_id,
        vmId: event.vm_id,
      })),
    });
  });
  return router;
}
