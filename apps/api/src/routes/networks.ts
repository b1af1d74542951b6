/**
 * Named networks (issue 13): an admin gives a project a network (`POST /networks`), which the gateway
 * makes as it makes a lab network (a leased VLAN tag, a VNet of Glassdome's zone); the project's
 * standalone VMs may then name it (`POST /vms {"network": {"name": …}}`). The project's keys read its
 * networks; another project's are a 404, as any resource outside the caller's scope. A network still
 * used by a VM cannot be deleted (409).
 */
import {
  findNetworkByName,
  getNetwork,
  insertNetwork,
  inTransaction,
  listNetworks,
  markNetworkDeleting,
  type NetworkRow,
} from '@glassdome/db';
import { contains, parseCidr, type StoredVmSpec, storedVmSpec, type VmRequest } from '@glassdome/lab';
import { writeIntent } from '@glassdome/lab-run';
import { jobIntent } from '@glassdome/queue';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import { requireRole, scopeOf } from '../auth/middleware';
import { projectName } from '../auth/projects';
import type { ApiContext } from '../context';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { accept, JSON_TYPES } from '../http/body';
import { parseInput } from '../http/validate';
import { emptyQuery, idParams } from '../schemas';
import { relayNow, requireRedis } from '../services/enqueue';

const networkName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be 1-63 lowercase letters, digits and dashes');

export const networkCreateBody = z.strictObject({
  name: networkName,
  project: projectName,
  /** The addresses its VMs use (informational, and static addresses must be inside it). */
  cidr: z
    .string()
    .refine((value) => {
      const parsed = parseCidr(value);
      return parsed !== undefined && parsed.prefix >= 8 && parsed.prefix <= 30 && parsed.address === parsed.base;
    }, 'must be a network address with its prefix (/8 to /30), e.g. 10.30.0.0/24')
    .optional(),
});

export function presentNetwork(network: NetworkRow) {
  return {
    id: network.id,
    name: network.name,
    project: network.project,
    cidr: network.cidr,
    status: network.status,
    bridge: network.bridge,
    error: network.error,
    createdAt: network.createdAt,
  };
}

async function createNetwork(ctx: ApiContext, req: Request, res: Response) {
  const body = parseInput(networkCreateBody, req.body, 'body');
  requireRedis(ctx.producer);
  const network = await inTransaction(ctx.db, async (trx) => {
    const row = await insertNetwork(trx, {
      platformId: ctx.platformId,
      project: body.project,
      name: body.name,
      cidr: body.cidr ?? null,
      createdBy: req.principal!.keyId,
    });
    await writeIntent(
      trx,
      jobIntent('network.named-create', { networkId: row.id, requestId: req.id }, `network-named-create.${row.id}`),
    );
    return row;
  }).catch((error: { code?: string }) => {
    if (error.code === '23505') {
      throw new ConflictError(`project ${body.project} already has a network named ${body.name}`);
    }
    throw error;
  });
  await relayNow(ctx, req);
  req.log.info({ networkId: network.id, project: network.project }, 'network create queued');
  res.status(202).location(`/api/v1/networks/${network.id}`).json(presentNetwork(network));
}

async function deleteNetwork(ctx: ApiContext, req: Request, res: Response) {
  const { id } = parseInput(idParams, req.params, 'params');
  const network = await getNetwork(ctx.db, id, scopeOf(req));
  if (!network) throw new NotFoundError('network');
  if (network.status === 'creating') throw new ConflictError('the network is still being made; try again shortly');
  requireRedis(ctx.producer);
  if (network.status !== 'deleting') {
    const marked = await markNetworkDeleting(ctx.db, id);
    if (!marked.ok && marked.reason === 'gone') throw new NotFoundError('network');
    if (!marked.ok) {
      throw new ConflictError(`network ${network.name} is used by ${marked.vms} VM(s); delete them first`, {
        vms: marked.vms,
      });
    }
  }
  await writeIntent(ctx.db, (n) =>
    jobIntent('network.named-delete', { networkId: id, requestId: req.id }, `network-named-delete.${id}.${n}`),
  );
  await relayNow(ctx, req);
  res.status(202).json({ id, status: 'deleting' });
}

export function networkRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.post('/networks', requireRole('admin'), accept(JSON_TYPES), (req, res) => createNetwork(ctx, req, res));
  router.get('/networks', async (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    res.json({ items: (await listNetworks(ctx.db, scopeOf(req))).map(presentNetwork) });
  });
  router.get('/networks/:id', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    const network = await getNetwork(ctx.db, id, scopeOf(req));
    if (!network) throw new NotFoundError('network');
    res.json(presentNetwork(network));
  });
  router.delete('/networks/:id', requireRole('admin'), (req, res) => deleteNetwork(ctx, req, res));
  return router;
}

/**
 * The stored spec of a standalone VM, with its attachment when it names a network: only a ready
 * network of its own project (another project's is as unknown as a missing one), and a static
 * address inside the network's CIDR.
 */
export async function standaloneVmSpec(ctx: ApiContext, project: string, vm: VmRequest): Promise<StoredVmSpec> {
  const spec = storedVmSpec(vm);
  const name = vm.network.name;
  if (name === undefined) return spec;
  const network = await findNetworkByName(ctx.db, project, name);
  if (!network) {
    throw new ValidationError([{ path: 'network.name', message: `project ${project} has no network named ${name}` }]);
  }
  if (network.status !== 'ready' || !network.bridge) {
    throw new ValidationError([{ path: 'network.name', message: `network ${name} is ${network.status}, not ready` }]);
  }
  const cidr = network.cidr ? parseCidr(network.cidr) : undefined;
  const address = vm.network.ip === 'dhcp' ? undefined : parseCidr(vm.network.ip);
  if (cidr && address && !contains(cidr, address.address)) {
    throw new ValidationError([{ path: 'network.ip', message: `is outside network ${name} (${network.cidr})` }]);
  }
  return {
    ...spec,
    attachment: {
      networkId: network.id,
      name,
      bridge: network.bridge,
      ...(network.tag === null ? {} : { tag: network.tag }),
    },
  };
}
