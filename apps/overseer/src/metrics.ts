/** Prometheus gauges of the overseer: what the last scan of each platform saw and did. */
import { createServer, type Server } from 'node:http';
import { Gauge, Registry } from 'prom-client';

export interface ScanFigures {
  platformId: string;
  durationSeconds: number;
  apiCalls: number;
  vmsByStatus: Record<string, number>;
  findingsBySeverity: Record<string, number>;
  nodesOffline: number;
}

export class OverseerMetrics {
  readonly registry = new Registry();
  readonly #duration = this.#gauge('glassdome_overseer_scan_duration_seconds', 'Duration of the last scan', [
    'platform',
  ]);
  readonly #apiCalls = this.#gauge('glassdome_overseer_scan_api_calls', 'Proxmox API calls of the last scan', [
    'platform',
  ]);
  readonly #lastScan = this.#gauge('glassdome_overseer_last_scan_timestamp_seconds', 'When the last scan ended', [
    'platform',
  ]);
  readonly #vms = this.#gauge('glassdome_overseer_vms', 'Proxmox VMs seen by the last scan, by status', [
    'platform',
    'status',
  ]);
  readonly #findings = this.#gauge('glassdome_overseer_findings', 'Conditions found by the last scan, by severity', [
    'platform',
    'severity',
  ]);
  readonly #nodesOffline = this.#gauge('glassdome_overseer_nodes_offline', 'Nodes offline at the last scan', [
    'platform',
  ]);

  readonly #statusesSeen = new Map<string, Set<string>>();

  #gauge(name: string, help: string, labelNames: string[]): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  recordScan(figures: ScanFigures): void {
    const platform = figures.platformId;
    this.#duration.set({ platform }, figures.durationSeconds);
    this.#apiCalls.set({ platform }, figures.apiCalls);
    this.#lastScan.set({ platform }, Date.now() / 1000);
    this.#nodesOffline.set({ platform }, figures.nodesOffline);
    // Statuses seen before but absent now drop to 0 rather than keep their old count.
    const statuses = this.#statusesSeen.get(platform) ?? new Set<string>();
    for (const status of Object.keys(figures.vmsByStatus)) statuses.add(status);
    this.#statusesSeen.set(platform, statuses);
    for (const status of statuses) this.#vms.set({ platform, status }, figures.vmsByStatus[status] ?? 0);
    for (const severity of ['info', 'warning', 'critical']) {
      this.#findings.set({ platform, severity }, figures.findingsBySeverity[severity] ?? 0);
    }
  }

  /** Serves `GET /metrics` on `host:port` (port 0: any free one); resolves with the listening server. */
  serve(port: number, host: string): Promise<Server> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve(server));
    });
  }
}
