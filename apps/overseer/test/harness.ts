/**
 * An overseer wired in-process to a simulator, a database and a Redis prefix of the test's own: scans
 * are called directly (so a test decides when one happens) while the overseer's workers run the jobs
 * the scans enqueue.
 */
import { randomBytes } from 'node:crypto';
import { createDb, type Db, migrateToLatest } from '@glassdome/db';
import { createLogger } from '@glassdome/logger';
import { createProxmox } from '@glassdome/proxmox';
import { createRedis, Producer, startWorkers, type WorkerGroup } from '@glassdome/queue';
import { DEFAULT_PLATFORM, ensurePlatform, OutboxRelay } from '@glassdome/runtime';
import {
  createRedisPrefix,
  createTestDatabase,
  startSimulator,
  type TestDatabase,
  type TestRedis,
  type TestSimulator,
  waitFor,
} from '@glassdome/testkit';
import type { OverseerContext, OverseerSettings } from '../src/context';
import { inventoryFromResources, type ObservedVm } from '../src/inventory';
import { OverseerMetrics } from '../src/metrics';
import { OutboundPolicy } from '../src/outbound';
import { redriveStuck } from '../src/redrive';
import { remediate } from '../src/remediate';
import { scanPlatform } from '../src/scan';
import { deliverWebhook, WebhookTargets } from '../src/webhook';

export interface Harness {
  sim: TestSimulator;
  db: Db;
  ctx: OverseerContext;
  scan(): ReturnType<typeof scanPlatform>;
  /** A stopped or running plain VM in the simulator; returns its VMID. */
  addSimVm(options?: { start?: boolean; tags?: string[] }): Promise<number>;
  /** Waits until `/cluster/resources` (which lags behind, like pvestatd) shows what `check` wants. */
  resourcesShow(what: string, check: (vms: Map<number, ObservedVm>) => boolean): Promise<void>;
  /** A lab (status ready) and one ready VM record owning `vmid`; returns their ids. */
  seedLabVm(vmid: number, name: string): Promise<{ labId: string; vmId: string }>;
  stop(): Promise<void>;
}

export const testSettings = (overrides: Partial<OverseerSettings> = {}): OverseerSettings => ({
  storageThreshold: 0.9,
  noIpAfterSeconds: 3600,
  stepBoundSeconds: 3600,
  sshProbePort: undefined,
  webhookUrls: [],
  webhookAllowPrivate: [],
  webhookSecret: undefined,
  redrive: { graceSeconds: 120, maxRedrives: 3 },
  policy: {
    enabled: new Set(['start-vm', 'rewait-agent', 'reboot-vm', 'expire-lab']),
    maxAttempts: 3,
    backoffMs: 0,
    orphanGraceMs: 3_600_000,
  },
  replica: 'test',
  isolationSeconds: 3600,
  network: { mode: 'sdn', zone: 'gdlab' },
  ...overrides,
});

export async function startHarness(label: string, settings: OverseerSettings = testSettings()): Promise<Harness> {
  const stops: Array<() => Promise<unknown> | unknown> = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step();
  };
  try {
    const sim = await startSimulator();
    stops.push(() => sim.stop());
    const database: TestDatabase = await createTestDatabase(label);
    stops.push(() => database.drop());
    const db = createDb(database.url);
    stops.push(() => db.destroy());
    await migrateToLatest(db);
    const redis: TestRedis = createRedisPrefix(label);
    stops.push(() => redis.cleanup());
    const producer = await Producer.open(redis.url, redis.prefix);
    stops.push(() => producer.close());
    const logger = createLogger({ name: `overseer-${label}`, level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const pve = createProxmox(
      {
        baseUrl: sim.info.apiUrl,
        node: sim.info.node,
        auth: { tokenId: sim.info.tokenId, tokenSecret: sim.info.tokenSecret },
        polling: { initialMs: 10, maxMs: 50 },
      },
      logger,
    );
    stops.push(() => pve.close());
    await ensurePlatform(db, {
      PROXMOX_URL: sim.info.apiUrl,
      PROXMOX_NODE: sim.info.node,
      PROXMOX_TOKEN_ID: sim.info.tokenId,
    });
    const relay = new OutboxRelay(db, producer, logger).start();
    stops.push(() => relay.stop());
    // Webhook targets are sealed with a key of this test's own; the test's receiver is on loopback.
    const webhooks =
      settings.webhookUrls.length > 0
        ? await WebhookTargets.register(
            db,
            randomBytes(32),
            settings.webhookUrls,
            new OutboundPolicy(settings.webhookAllowPrivate?.length ? settings.webhookAllowPrivate : ['127.0.0.0/8']),
          )
        : undefined;
    const ctx: OverseerContext = {
      db,
      producer,
      relay,
      pve,
      logger,
      settings,
      metrics: new OverseerMetrics(),
      webhooks,
    };
    // BullMQ leaves connections it was given open on close; they are ours to end.
    const connections: ReturnType<typeof createRedis>[] = [];
    stops.push(() => {
      for (const connection of connections) connection.disconnect();
    });
    const workers: WorkerGroup = startWorkers({
      connect: () => {
        const connection = createRedis(redis.url, 'worker');
        connections.push(connection);
        return connection;
      },
      prefix: redis.prefix,
      queues: ['overseer'],
      handlers: {
        'overseer.scan': ({ platformId }, { job }) => scanPlatform(ctx, platformId, job.id),
        'overseer.redrive': ({ platformId }) => redriveStuck(ctx, platformId),
        'overseer.remediate': (payload) => remediate(ctx, payload),
        'alert.webhook': (payload, { signal }) => deliverWebhook(ctx, payload, signal),
      },
      shutdownMs: 5_000,
      logger,
    });
    stops.push(() => workers.close());
    return {
      sim,
      db,
      ctx,
      scan: () => scanPlatform(ctx, DEFAULT_PLATFORM),
      async addSimVm(options = {}) {
        const created = (await sim.admin('POST', '/bulk-vms', { count: 1, start: options.start ?? true })) as {
          first: number;
        };
        if (options.tags) await pve.vms.updateConfig(created.first, { tags: options.tags });
        return created.first;
      },
      async resourcesShow(what, check) {
        await waitFor(`resources showing ${what}`, async () =>
          check(inventoryFromResources(await pve.client.get('/cluster/resources')).vms),
        );
      },
      seedLabVm: (vmid, name) => seedLabVm(db, sim.info.node, vmid, name),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A lab (status ready) and one ready VM record in it owning `vmid`. */
async function seedLabVm(db: Db, node: string, vmid: number, name: string) {
  const lab = await db
    .insertInto('labs')
    .values({
      name: `lab-${name}`,
      platform_id: DEFAULT_PLATFORM,
      status: 'ready',
      spec: JSON.stringify({}),
      graph: JSON.stringify({ tasks: [] }),
      on_failure: 'fail',
      copies: 1,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const vm = await db
    .insertInto('vms')
    .values({
      lab_id: lab.id,
      copy: 0,
      name,
      os: 'ubuntu-22.04',
      platform_id: DEFAULT_PLATFORM,
      node,
      vmid,
      status: 'ready',
      ip: '127.64.0.10',
      spec: JSON.stringify({}),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { labId: lab.id, vmId: vm.id };
}

/** Live (open or acknowledged) alerts, by kind and subject. */
export async function liveAlerts(db: Db) {
  return db
    .selectFrom('alerts')
    .select(['id', 'kind', 'severity', 'subject', 'state'])
    .where('state', '<>', 'resolved')
    .orderBy('kind')
    .orderBy('subject')
    .execute();
}

export async function countEvents(db: Db, kind: string, vmId?: string): Promise<number> {
  let query = db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('kind', '=', kind);
  if (vmId) query = query.where('vm_id', '=', vmId);
  return Number((await query.executeTakeFirstOrThrow()).n);
}
