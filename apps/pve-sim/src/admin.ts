/**
 * The operator endpoint outside `/api2`, protected by `Authorization: Bearer <admin secret>`:
 *
 *   GET  /_sim/state                 state dump (secrets redacted)
 *   POST /_sim/reset                 back to the default cluster (faults cleared)
 *   GET  /_sim/faults                active faults
 *   POST /_sim/faults                merge {rate500, rate595, slowTaskFactor, failTasks, agentNeverUp,
 *                                    impostorHostKey, nodeOffline}
 *   POST /_sim/save, /_sim/load      {file?} snapshot to/from a file (default: the state file)
 *   GET  /_sim/guest-effects         what guests did, per vmid (?vmid=N for one)
 *   POST /_sim/vms/{vmid}/stop       power a VM off behind the API's back
 *   DELETE /_sim/vms/{vmid}          make a VM vanish (config and disks)
 *   POST /_sim/bulk-vms              {count, node?, start?, prefix?} add plain VMs quickly (benchmarks)
 */

import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { ApiError } from './errors';
import { leaseDhcp } from './network/topology';
import { loadSnapshot, redactedState, saveSnapshot } from './persist';
import { readBody } from './request';
import type { Simulator } from './sim';
import type { Vm } from './state/types';

export interface AdminApi {
  sim: Simulator;
  secret: string;
  /** Default snapshot file for save/load. */
  stateFile?: string;
}

const bulkSchema = z.object({
  count: z.number().int().min(1).max(100_000),
  node: z.string().optional(),
  start: z.boolean().default(false),
  prefix: z
    .string()
    .regex(/^[a-z][a-z0-9-]*$/)
    .default('bulk'),
});

function authorized(api: AdminApi, req: IncomingMessage): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
  const wanted = Buffer.from(api.secret);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, {
    'Content-Type': 'application/json;charset=UTF-8',
    ...(status >= 400 ? { Connection: 'close' } : {}),
  });
  res.end(JSON.stringify(body));
}

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req);
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'body must be JSON');
  }
}

/** Adds `count` stopped (or running) VMs with small configs at the next free ids. */
export function addBulkVms(sim: Simulator, request: z.infer<typeof bulkSchema>): number[] {
  const node = request.node ?? Object.keys(sim.state.nodes)[0]!;
  if (!sim.state.nodes[node]) throw new ApiError(400, `no such node '${node}'`);
  const created: number[] = [];
  const fresh: Vm[] = [];
  let vmid = 100;
  while (created.length < request.count) {
    while (sim.state.vms[vmid]) vmid++;
    const vm: Vm = {
      vmid,
      node,
      status: 'stopped',
      snapshots: {},
      config: {
        name: `${request.prefix}-${vmid}`,
        memory: '1024',
        cores: '1',
        net0: `virtio=${sim.random.mac()},bridge=vmbr0`,
        scsi0: `local-lvm:vm-${vmid}-disk-0,size=8G`,
        scsihw: 'virtio-scsi-pci',
        agent: 'enabled=1',
      },
    };
    sim.state.vms[vmid] = vm;
    fresh.push(vm);
    const storage = sim.state.storages[`${node}/local-lvm`];
    if (storage) storage.volumes[`vm-${vmid}-disk-0`] = { vmid, sizeBytes: 8 * 1024 ** 3 };
    created.push(vmid);
  }
  // Leases first: a guest that starts shows its address at once.
  leaseDhcp(sim.state.vms, fresh, sim.options.guestSubnet);
  if (request.start) for (const vm of fresh) sim.powerOn(vm);
  return created;
}

async function route(api: AdminApi, req: IncomingMessage, url: URL): Promise<[number, unknown]> {
  const { sim } = api;
  const key = `${req.method} ${url.pathname.replace(/\/$/, '')}`;
  const vmMatch = /^\/_sim\/vms\/(\d+)(\/stop)?$/.exec(url.pathname);
  if (vmMatch) {
    const vm = sim.state.vms[vmMatch[1]!];
    if (!vm) return [404, { error: `no VM ${vmMatch[1]}` }];
    if (req.method === 'POST' && vmMatch[2]) sim.powerOff(vm);
    else if (req.method === 'DELETE' && !vmMatch[2]) {
      sim.powerOff(vm);
      delete sim.state.vms[vm.vmid];
      for (const storage of Object.values(sim.state.storages)) {
        for (const [name, volume] of Object.entries(storage.volumes))
          if (volume.vmid === vm.vmid) delete storage.volumes[name];
      }
    } else return [405, { error: 'method not allowed' }];
    return [200, { ok: true }];
  }
  switch (key) {
    case 'GET /_sim/state':
      return [200, redactedState(sim.state)];
    case 'POST /_sim/reset':
      sim.reset();
      return [200, { ok: true }];
    case 'GET /_sim/faults':
      return [200, sim.faults.faults];
    case 'POST /_sim/faults': {
      const body = await jsonBody(req);
      try {
        return [200, sim.setFaults(body)];
      } catch (error) {
        return [400, { error: error instanceof Error ? error.message : String(error) }];
      }
    }
    case 'POST /_sim/save':
    case 'POST /_sim/load': {
      const file = ((await jsonBody(req)).file as string | undefined) ?? api.stateFile;
      if (!file) return [400, { error: 'no file given and no PVE_SIM_STATE_FILE configured' }];
      if (key.endsWith('save')) await saveSnapshot(sim, file);
      else await loadSnapshot(sim, file);
      return [200, { ok: true, file }];
    }
    case 'GET /_sim/guest-effects': {
      const vmid = url.searchParams.get('vmid');
      return [200, vmid ? (sim.state.guestEffects[vmid] ?? []) : sim.state.guestEffects];
    }
    case 'POST /_sim/bulk-vms': {
      const parsed = bulkSchema.safeParse(await jsonBody(req));
      if (!parsed.success) return [400, { error: parsed.error.message }];
      const vmids = addBulkVms(sim, parsed.data);
      return [200, { created: vmids.length, first: vmids[0], last: vmids[vmids.length - 1] }];
    }
    default:
      return [404, { error: `no admin route ${key}` }];
  }
}

export async function handleAdmin(api: AdminApi, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (!authorized(api, req)) return send(res, 401, { error: 'admin secret required (Authorization: Bearer <secret>)' });
  try {
    const [status, body] = await route(api, req, url);
    send(res, status, body);
  } catch (error) {
    send(res, error instanceof ApiError ? error.status : 500, {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
