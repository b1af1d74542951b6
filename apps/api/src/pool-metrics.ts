/**
 * Warm pools in /metrics, read from Postgres at scrape time like the other state gauges (so every API
 * replica reports the same): each pool's size, its copies by status, and its recent claims' latency.
 */
import { countPoolMembers, type Db, listPools, recentClaims } from '@glassdome/db';
import { Gauge, type Registry } from 'prom-client';

export function poolGauges(registry: Registry, db: Db): void {
  new Gauge({
    name: 'glassdome_pool_size',
    help: 'Copies each warm pool keeps deployed',
    labelNames: ['pool'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const pool of await listPools(db, { kind: 'all' })) this.set({ pool: pool.name }, pool.size);
    },
  });
  new Gauge({
    name: 'glassdome_pool_copies',
    help: "Warm pools' unclaimed copies by status (ready ones can be claimed)",
    labelNames: ['pool', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      const names = new Map((await listPools(db, { kind: 'all' })).map((pool) => [pool.id, pool.name]));
      for (const row of await countPoolMembers(db)) {
        const pool = names.get(row.pool_id ?? '');
        if (pool) this.set({ pool, status: row.status }, Number(row.count));
      }
    },
  });
  new Gauge({
    name: 'glassdome_pool_claim_seconds',
    help: "Latency of a warm pool's last 50 claims: median, maximum and the last one",
    labelNames: ['pool', 'stat'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const pool of await listPools(db, { kind: 'all' })) {
        const claims = await recentClaims(db, pool.id, 50);
        const ms = claims.flatMap((claim) => (claim.claim_ms === null ? [] : [claim.claim_ms])).sort((a, b) => a - b);
        if (ms.length === 0) continue;
        this.set({ pool: pool.name, stat: 'p50' }, ms[Math.floor(ms.length / 2)]! / 1000);
        this.set({ pool: pool.name, stat: 'max' }, ms.at(-1)! / 1000);
        const last = claims.find((claim) => claim.claim_ms !== null)!.claim_ms!;
        this.set({ pool: pool.name, stat: 'last' }, last / 1000);
      }
    },
  });
}
