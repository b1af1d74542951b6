import { countLabsByStatus, countVmsByStatus, type Db, stepDurationTotals } from '@glassdome/db';
import type { Producer } from '@glassdome/queue';
import type { NextFunction, Request, Response } from 'express';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { poolGauges } from './pool-metrics';

/**
 * The API's Prometheus metrics. Queue depths, step durations and deploy results are read from Redis
 * and Postgres at scrape time, so every API replica reports the same cluster-wide figures.
 */
export interface ApiMetrics {
  registry: Registry;
  /** Times every request by method, matched route and status. */
  observe(req: Request, res: Response, next: NextFunction): void;
}

function stateGauges(registry: Registry, db: Db, producer: Producer) {
  new Gauge({
    name: 'glassdome_queue_jobs',
    help: 'Jobs in each queue by state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      if (producer.connection.status !== 'ready') return;
      for (const [queue, handle] of Object.entries(producer.queues)) {
        const counts = await handle.getJobCounts(
          'waiting',
          'active',
          'delayed',
          'failed',
          'completed',
          'waiting-children',
        );
        for (const [state, count] of Object.entries(counts)) this.set({ queue, state }, count);
      }
    },
  });
  new Gauge({
    name: 'glassdome_vms',
    help: 'VMs by status (deploy results: ready vs failed)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await countVmsByStatus(db)) this.set({ status: row.status }, Number(row.count));
    },
  });
  new Gauge({
    name: 'glassdome_labs',
    help: 'Labs by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await countLabsByStatus(db)) this.set({ status: row.status }, Number(row.count));
    },
  });
}

function stepGauges(registry: Registry, db: Db) {
  // A scrape collects every metric at once; both gauges share the one query in flight.
  let inFlight: ReturnType<typeof stepDurationTotals> | undefined;
  const totals = () => {
    inFlight ??= stepDurationTotals(db).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  const fields = { count: 'Finished deployment steps', seconds: 'Total seconds spent in finished deployment steps' };
  for (const [suffix, field] of [
    ['count', 'count'],
    ['sum', 'seconds'],
  ] as const) {
    new Gauge({
      name: `glassdome_step_duration_seconds_${suffix}`,
      help: `${fields[field]}, by step and outcome`,
      labelNames: ['step', 'status'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const row of await totals()) this.set({ step: row.name, status: row.status }, Number(row[field]));
      },
    });
  }
}

/**
 * How often the event-loop delay histogram (nodejs_eventloop_lag_min/mean/max/pNN) samples, in ms.
 * prom-client's default of 10 ms is a timer that wakes the API 100 times a second while it does
 * nothing, about half its idle CPU. Node's histogram records each sample's whole interval, so those
 * figures include this period: an idle API reads about 0.1 s, and its lag is what lies above that.
 * Every stall of 100 ms or more lands in a sample; shorter ones in proportion to their length.
 * (`nodejs_eventloop_lag_seconds` is measured apart, by one timer per scrape.)
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** When a response's request arrived (performance.now()), kept on the response until it is finished. */
const STARTED = Symbol('glassdome.started');
type Timed = Response & { [STARTED]?: number };

export function createMetrics(db: Db, producer: Producer): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const latency = new Histogram({
    name: 'glassdome_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'glassdome_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  stateGauges(registry, db, producer);
  stepGauges(registry, db);
  poolGauges(registry, db);
  // One listener shared by every response (`this` is the response), not a closure per request.
  function recordFinished(this: Response) {
    const req = this.req;
    // The route pattern, never the raw path: ids in paths would explode the label set.
    const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
    const labels = { method: req.method, route, status: String(this.statusCode) };
    latency.observe(labels, (performance.now() - ((this as Timed)[STARTED] ?? 0)) / 1000);
    requests.inc(labels);
  }
  return {
    registry,
    observe(_req, res, next) {
      // Once per request, should a request pass this layer twice (a route that falls through).
      if ((res as Timed)[STARTED] === undefined) {
        (res as Timed)[STARTED] = performance.now();
        res.on('finish', recordFinished);
      }
      next();
    },
  };
}
