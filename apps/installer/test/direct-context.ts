/**
 * An installer context for tests that call the installer's steps directly (no workers, no queues): a
 * simulator of the test's own, a migrated database of its own, a Proxmox client on the simulator's
 * deploy token and a silent logger. `stop` takes all of it down again.
 */
import { Writable } from 'node:stream';
import { createDb, type Db, insertVms, migrateToLatest, setVmPlacement } from '@glassdome/db';
import { createLogger } from '@glassdome/logger';
import { createProxmox, type Proxmox } from '@glassdome/proxmox';
import { createTestDatabase, startSimulator, type TestDatabase, type TestSimulator } from '@glassdome/testkit';
import type { InstallerContext } from '../src/context';
import type { InstallerEnv } from '../src/env';
import { loadVm, type VmRow } from '../src/vm-record';

export interface DirectContext {
  sim: TestSimulator;
  db: Db;
  pve: Proxmox;
  ctx: InstallerContext;
  stop(): Promise<void>;
}

export async function startDirectContext(
  name: string,
  env: (sim: TestSimulator) => Partial<InstallerEnv>,
  simulator: Parameters<typeof startSimulator>[0] = {},
): Promise<DirectContext> {
  const sim = await startSimulator(simulator);
  let database: TestDatabase | undefined;
  let db: Db | undefined;
  let pve: Proxmox | undefined;
  const stop = async () => {
    pve?.close();
    await db?.destroy();
    await database?.drop();
    await sim.stop();
  };
  try {
    database = await createTestDatabase(name);
    db = createDb(database.url);
    await migrateToLatest(db);
    pve = createProxmox({
      baseUrl: sim.info.apiUrl,
      node: sim.info.node,
      auth: { tokenId: sim.info.tokenId, tokenSecret: sim.info.tokenSecret },
      polling: { initialMs: 10, maxMs: 50 },
    });
    const logger = createLogger({
      name,
      level: 'silent',
      destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
    });
    const ctx = { env: env(sim) as InstallerEnv, db, pve, logger } as InstallerContext;
    return { sim, db, pve, ctx, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A test VM's placement as the deploy step leaves it: one NIC on vmbr0 by DHCP, the management NIC. */
export const TEST_PLACEMENT = {
  nics: [{ bridge: 'vmbr0', ipconfig: 'ip=dhcp', firewall: false }],
  managementNic: 0,
};

/** The record of simulator VM `vmid` as a deploy that placed it leaves it (an Ubuntu VM of one vCPU). */
export async function recordOfSimVm(direct: DirectContext, name: string, vmid: number): Promise<VmRow> {
  const spec = {
    cpus: 1,
    memoryMiB: 1024,
    diskGiB: 10,
    cloudInit: { user: 'ubuntu', sshKeys: [], packages: [], runcmd: [] },
    provision: [],
  };
  const [id] = await insertVms(direct.db, [
    { name, os: 'ubuntu-22.04', platformId: 'default', node: direct.sim.info.node, spec },
  ]);
  await setVmPlacement(direct.db, id!, { vmid });
  const vm = await loadVm(direct.db, id!);
  if (!vm) throw new Error(`VM record ${name} not found after its insert`);
  return vm;
}
