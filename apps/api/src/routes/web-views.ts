/**
 * Read-only views the web UI draws from, derived from what Glassdome already stores:
 * - `GET /labs/:id/topology`: the lab's networks, VM entries with their addresses, dependsOn edges
 *   and network rules, from its spec (never its provisioning content or keys);
 * - `GET /os-profiles`: the OS profiles a VM may name, with their defaults and whether a template
 *   for them is recorded, for the designer's palette and the quick-deploy form.
 */
import { getLab, listTemplates } from '@glassdome/db';
import { type LabSpec, labAddressing, OS_NAMES, OS_PROFILES, parseStoredLabSpec } from '@glassdome/lab';
import { Router } from 'express';
import { z } from 'zod';
import { scopeOf } from '../auth/middleware';
import type { ApiContext } from '../context';
import { NotFoundError } from '../errors';
import { parseInput } from '../http/validate';
import { emptyQuery, idParams } from '../schemas';

export const labTopologyResponse = z.object({
  labId: z.string(),
  copies: z.number().int(),
  networks: z.array(
    z.object({
      name: z.string(),
      cidr: z.string(),
      /** `allow`, `deny`, or the allowed destinations. */
      egress: z.union([z.enum(['allow', 'deny']), z.array(z.string())]),
      intra: z.enum(['allow', 'deny']),
      gateway: z.string().optional(),
    }),
  ),
  /** One per VM instance of a copy (a counted entry gives several), in spec order. */
  vms: z.array(
    z.object({
      /** Instance name, as the lab's VMs are named in each copy. */
      name: z.string(),
      /** The spec entry it comes from. */
      entry: z.string(),
      os: z.string().optional(),
      cpus: z.number(),
      memoryMiB: z.number(),
      diskGiB: z.number(),
      nics: z.array(z.object({ network: z.string(), address: z.string(), prefix: z.number() })),
      /** Spec entries this VM's post-configuration waits for. */
      dependsOn: z.array(z.string()),
      /** Networks this VM routes for. */
      routerFor: z.array(z.string()),
    }),
  ),
  rules: z.array(z.object({ from: z.string(), to: z.string(), ports: z.array(z.string()) })),
});

export const osProfilesResponse = z.object({
  items: z.array(
    z.object({
      os: z.enum(OS_NAMES),
      label: z.string(),
      defaultUser: z.string(),
      cpus: z.number(),
      memoryMiB: z.number(),
      diskGiB: z.number(),
      minMemoryMiB: z.number(),
      minDiskGiB: z.number(),
      /** Status of the template recorded for this OS (`ready`, `building`, …), or null when none is. */
      template: z.string().nullable(),
    }),
  ),
});

function topologyOf(labId: string, spec: LabSpec) {
  const addressing = labAddressing(spec);
  const entries = new Map(spec.vms.map((vm) => [vm.name, vm]));
  return {
    labId,
    copies: spec.copies,
    networks: spec.networks.map((network) => ({
      name: network.name,
      cidr: network.cidr,
      egress: network.egress,
      intra: network.intra,
      ...(network.gateway ? { gateway: network.gateway } : {}),
    })),
    vms: addressing.vms.map((vm) => {
      const entry = entries.get(vm.entry)!;
      return {
        name: vm.vm,
        entry: vm.entry,
        ...(entry.os ? { os: entry.os } : {}),
        cpus: entry.cpus,
        memoryMiB: entry.memoryMiB,
        diskGiB: entry.diskGiB,
        nics: vm.nics.map((nic) => ({ network: nic.network, address: nic.address, prefix: nic.prefix })),
        dependsOn: entry.dependsOn,
        routerFor: vm.routerFor,
      };
    }),
    rules: spec.rules,
  };
}

export function webViewRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.get('/labs/:id/topology', async (req, res) => {
    const { id } = parseInput(idParams, req.params, 'params');
    parseInput(emptyQuery, req.query, 'query');
    const lab = await getLab(ctx.db, id, scopeOf(req));
    if (!lab) throw new NotFoundError('lab');
    res.json(labTopologyResponse.parse(topologyOf(lab.id, parseStoredLabSpec(lab.spec))));
  });

  router.get('/os-profiles', async (req, res) => {
    parseInput(emptyQuery, req.query, 'query');
    const templates = await listTemplates(ctx.db, scopeOf(req));
    res.json(
      osProfilesResponse.parse({
        items: OS_NAMES.map((os) => {
          const { label, defaultUser, cpus, memoryMiB, diskGiB, minMemoryMiB, minDiskGiB } = OS_PROFILES[os];
          const template =
            templates.find((t) => t.os === os && t.status === 'ready') ?? templates.find((t) => t.os === os);
          return {
            os,
            label,
            defaultUser,
            cpus,
            memoryMiB,
            diskGiB,
            minMemoryMiB,
            minDiskGiB,
            template: template?.status ?? null,
          };
        }),
      }),
    );
  });
  return router;
}
