// Generated from the migrations by `pnpm migrate types`; checked by schema-drift.test.ts. Do not edit.
import type { Generated, GeneratedAlways } from 'kysely';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface AlertsTable {
  id: Generated<string>;
  dedup_key: string;
  kind: string;
  severity: string;
  subject: string;
  message: string;
  state: string;
  data: JsonValue | null;
  first_seen_at: Generated<Date>;
  last_seen_at: Generated<Date>;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  resolved_at: Date | null;
  project: Generated<string>;
}

export interface ApiKeysTable {
  id: Generated<string>;
  name: string;
  prefix: string;
  key_hash: string;
  role: string;
  created_at: Generated<Date>;
  last_used_at: Date | null;
  revoked_at: Date | null;
  project: Generated<string>;
  lab_id: string | null;
  copy: number | null;
}

export interface ChangeFeedListenersTable {
  pid: number;
  since: Generated<Date>;
}

export interface CredentialsTable {
  platform_id: string;
  kind: string;
  sealed: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface EventsTable {
  id: Generated<number>;
  at: Generated<Date>;
  lab_id: string | null;
  vm_id: string | null;
  kind: string;
  message: string;
  data: JsonValue | null;
  project: Generated<string>;
  private: Generated<boolean>;
}

export interface IdempotencyKeysTable {
  api_key_id: string;
  key: string;
  request_hash: string;
  status_code: number;
  response: JsonValue;
  created_at: Generated<Date>;
}

export interface LabOperationsTable {
  id: Generated<string>;
  lab_id: string;
  kind: string;
  target: JsonValue;
  snapshot: string | null;
  options: JsonValue | null;
  status: Generated<string>;
  done: Generated<number>;
  total: Generated<number>;
  error: string | null;
  requested_by: string | null;
  created_at: Generated<Date>;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface LabSpecsTable {
  id: Generated<string>;
  project: string;
  name: string;
  version: number;
  spec: JsonValue;
  description: string | null;
  created_by: string | null;
  created_at: Generated<Date>;
}

export interface LabsTable {
  id: Generated<string>;
  name: string;
  platform_id: string;
  status: string;
  spec: JsonValue;
  graph: JsonValue;
  on_failure: string;
  copies: number;
  expires_at: Date | null;
  error: string | null;
  request_id: string | null;
  created_by: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  run: Generated<number>;
  project: Generated<string>;
  isolation: JsonValue | null;
  first_ready_at: Date | null;
  source: JsonValue | null;
  pool_id: string | null;
  claimed_at: Date | null;
  claim_ms: number | null;
  testing: JsonValue | null;
}

export interface NetworkLeasesTable {
  platform_id: string;
  tag: number;
  owner: string;
  lab_id: string | null;
  network: string | null;
  created_at: Generated<Date>;
}

export interface NetworksTable {
  id: Generated<string>;
  platform_id: string;
  project: string;
  name: string;
  cidr: string | null;
  status: Generated<string>;
  bridge: string | null;
  tag: number | null;
  error: string | null;
  created_by: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface OutboxTable {
  id: Generated<number>;
  intent: JsonValue;
  created_at: Generated<Date>;
  attempts: Generated<number>;
  last_error: string | null;
}

export interface PlatformsTable {
  id: string;
  kind: Generated<string>;
  api_url: string;
  node: string;
  token_id: string;
  tls_fingerprint: string | null;
  ssh_host: string | null;
  ssh_user: string | null;
  ssh_host_key: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface PoolsTable {
  id: Generated<string>;
  name: string;
  project: string;
  source: JsonValue;
  size: number;
  status: Generated<string>;
  created_by: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ProjectUsageTable {
  project: string;
  vms: Generated<number>;
  vcpus: Generated<number>;
  memory_mib: Generated<number>;
  copies: Generated<number>;
}

export interface ProjectsTable {
  name: string;
  max_vms: number | null;
  max_copies: number | null;
  max_vcpus: number | null;
  max_memory_mib: number | null;
  max_lab_ttl_seconds: number | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface SshHostKeysTable {
  host: string;
  port: number;
  fingerprint: string;
  key_type: string | null;
  trusted_at: Generated<Date>;
}

export interface StepTotalsTable {
  name: string;
  status: string;
  count: Generated<number>;
  seconds: Generated<number>;
}

export interface StepsTable {
  id: Generated<number>;
  vm_id: string | null;
  lab_id: string | null;
  name: string;
  status: string;
  attempts: Generated<number>;
  queued_at: Generated<Date>;
  started_at: Date | null;
  finished_at: Date | null;
  error: string | null;
  detail: JsonValue | null;
  shown: GeneratedAlways<string | null>;
}

export interface TemplatesTable {
  id: Generated<string>;
  platform_id: string;
  node: string;
  os: string;
  vmid: number;
  name: string;
  status: string;
  config_digest: string | null;
  error: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  project: Generated<string>;
  published: Generated<boolean>;
}

export interface VmHostKeysTable {
  vm_id: string;
  fingerprint: string;
  key_type: string;
  pinned_at: Generated<Date>;
}

export interface VmSnapshotsTable {
  id: Generated<string>;
  vm_id: string;
  lab_id: string;
  copy: number;
  name: string;
  scope: string;
  with_ram: Generated<boolean>;
  status: string;
  description: string | null;
  error: string | null;
  operation_id: string | null;
  created_at: Generated<Date>;
}

export interface VmidLeasesTable {
  platform_id: string;
  vmid: number;
  owner: string;
  expires_at: Date;
  created_at: Generated<Date>;
}

export interface VmsTable {
  id: Generated<string>;
  lab_id: string | null;
  copy: number | null;
  name: string;
  os: string;
  platform_id: string;
  node: string;
  vmid: number | null;
  status: string;
  desired_state: Generated<string>;
  observed_status: string | null;
  observed_at: Date | null;
  ip: string | null;
  spec: JsonValue;
  error: string | null;
  request_id: string | null;
  created_by: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  project: Generated<string>;
  planned_steps: JsonValue | null;
}

export interface Database {
  alerts: AlertsTable;
  api_keys: ApiKeysTable;
  change_feed_listeners: ChangeFeedListenersTable;
  credentials: CredentialsTable;
  events: EventsTable;
  idempotency_keys: IdempotencyKeysTable;
  lab_operations: LabOperationsTable;
  lab_specs: LabSpecsTable;
  labs: LabsTable;
  network_leases: NetworkLeasesTable;
  networks: NetworksTable;
  outbox: OutboxTable;
  platforms: PlatformsTable;
  pools: PoolsTable;
  project_usage: ProjectUsageTable;
  projects: ProjectsTable;
  ssh_host_keys: SshHostKeysTable;
  step_totals: StepTotalsTable;
  steps: StepsTable;
  templates: TemplatesTable;
  vm_host_keys: VmHostKeysTable;
  vm_snapshots: VmSnapshotsTable;
  vmid_leases: VmidLeasesTable;
  vms: VmsTable;
}
