/**
 * A gateway context on a simulator and a database of the test's own, for calling the gateway's job
 * handlers directly: the node over SSH as root (host key pinned), Proxmox with the deploy token, no
 * producer, a silent logger. `env` holds only what the handlers under test read.
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { createDb, type Db, migrateToLatest } from '@glassdome/db';
import { createLogger } from '@glassdome/logger';
import { createProxmox } from '@glassdome/proxmox';
import { SshPool } from '@glassdome/ssh';
import { createTestDatabase, startSimulator, type TestSimulator } from '@glassdome/testkit';
import type { GatewayContext } from '../src/context';
import type { GatewayEnv } from '../src/env';

export interface GatewayHarness {
  sim: TestSimulator;
  db: Db;
  ctx: GatewayContext;
  close(): Promise<void>;
}

export async function startGatewayHarness(
  name: string,
  env: (sim: TestSimulator) => Partial<GatewayEnv>,
  simEnv: Record<string, string> = {},
): Promise<GatewayHarness> {
  const sim = await startSimulator({ env: simEnv });
  const database = await createTestDatabase(name);
  const db = createDb(database.url);
  await migrateToLatest(db);
  const ssh = new SshPool();
  const pve = createProxmox({
    baseUrl: sim.info.apiUrl,
    node: sim.info.node,
    auth: { tokenId: sim.info.tokenId, tokenSecret: sim.info.tokenSecret },
  });
  const logger = createLogger({
    name: 'gw-test',
    level: 'silent',
    destination: new Writable({ write: (_c, _e, cb) => cb() }),
  });
  const node = {
    host: '127.0.0.1',
    port: sim.info.sshPort,
    username: 'root',
    privateKey: readFileSync(sim.info.sshPrivateKeyPath!, 'utf8'),
    hostKey: { kind: 'pinned' as const, fingerprints: [sim.info.sshHostKeyFingerprint] },
  };
  const ctx: GatewayContext = { env: env(sim) as GatewayEnv, db, producer: undefined as never, pve, ssh, node, logger };
  return {
    sim,
    db,
    ctx,
    async close() {
      ssh.close();
      pve.close();
      await db.destroy();
      await database.drop();
      await sim.stop();
    },
  };
}
