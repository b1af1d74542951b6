/**
 * The environment variables Glassdome's processes share, each with its default and meaning.
 * Every app composes its own schema from these pieces; the README's configuration table is checked
 * against them by `config-table.test.ts`.
 */
import { z } from 'zod';
import { weakApiKeyReason, weakSecretKeyReason } from './entropy';
import { parseRedisUrl, RedisUrlError } from './redis-url';

const postgresUrl = z.string().refine((value) => /^postgres(ql)?:\/\/[^\s]+$/.test(value) && URL.canParse(value), {
  message: 'must be a postgres:// URL, e.g. postgres://glassdome@127.0.0.1:5432/glassdome',
});

/** One server (redis://), a Sentinel set (redis-sentinel://…/<master>) or a cluster (redis-cluster://…). */
const redisUrl = z.string().superRefine((value, ctx) => {
  try {
    parseRedisUrl(value);
  } catch (error) {
    if (!(error instanceof RedisUrlError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.message });
  }
});

const port = z.coerce.number().int().min(0).max(65535);
const flag = z.enum(['0', '1', 'true', 'false']).transform((value) => value === '1' || value === 'true');

/** Backing services every process needs. */
export const backing = {
  /** Redis holding the BullMQ queues: one server, a Sentinel set or a cluster (see redis-url.ts). */
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  /** Key prefix for every queue; the braces are a Redis Cluster hash tag so one queue's keys share a slot. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^\{[A-Za-z0-9_.:-]+\}$/, 'must be a hash tag in braces, e.g. {glassdome}')
    .default('{glassdome}'),
  /**
   * Base in ms of the exponential backoff between a lab task's attempts (doubled each time); read by
   * every process that adds lab tasks. Unset: the job catalog's (2 s).
   */
  LAB_TASK_BACKOFF_MS: z.coerce.number().int().positive().optional(),
  /** Postgres holding desired and observed state. */
  DATABASE_URL: postgresUrl.default('postgres://postgres@127.0.0.1:5432/glassdome'),
  /** Log level: fatal, error, warn, info, debug or trace. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Log format: json (default off a terminal) or pretty (default on a terminal). */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** Key (32 bytes, base64 or hex) that encrypts credentials stored in Postgres; generated into .glassdome/ by `pnpm start`. */
  GLASSDOME_SECRET_KEY: z
    .string()
    .min(32, 'must be at least 32 characters (32 random bytes as base64 or hex)')
    .superRefine((value, ctx) => {
      const reason = weakSecretKeyReason(value);
      if (reason) ctx.addIssue({ code: 'custom', message: reason });
    })
    .optional(),
};

/** The Proxmox cluster workers talk to; defaults point at the simulator started by `pnpm start`. */
export const proxmox = {
  /** Proxmox API base, e.g. https://pve.example:8006 (the /api2/json suffix is added). */
  PROXMOX_URL: z.string().url().default('https://127.0.0.1:8006'),
  /** API token id, user@realm!name. */
  PROXMOX_TOKEN_ID: z
    .string()
    .regex(/^[^\s@!]+@[A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$/, 'must look like user@realm!tokenname')
    .default('glassdome@pve!deploy'),
  /** API token secret (a UUID on real Proxmox). */
  PROXMOX_TOKEN_SECRET: z.string().min(1).optional(),
  /** Node that VMs are deployed on. */
  PROXMOX_NODE: z
    .string()
    .regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/, 'must be a node name')
    .default('pve01'),
  /** SHA-256 fingerprint of the API certificate (AA:BB:…), pinned. */
  PROXMOX_TLS_FINGERPRINT: z
    .string()
    .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint like AB:CD:…')
    .optional(),
  /** Path of a CA certificate (PEM) that signs the API certificate, instead of a fingerprint. */
  PROXMOX_CA_FILE: z.string().optional(),
  /** Storage for cloned disks. */
  PROXMOX_STORAGE: z.string().default('local-lvm'),
  /** Bridge that VM NICs attach to. */
  PROXMOX_BRIDGE: z.string().default('vmbr0'),
  /** Host (and optional :port) of the node's SSH daemon, for the gateway's host operations. */
  PROXMOX_SSH_HOST: z.string().default('127.0.0.1:2222'),
  /** SSH user on the node. */
  PROXMOX_SSH_USER: z.string().default('root'),
  /** Private key file for the node's SSH user. */
  PROXMOX_SSH_KEY_FILE: z.string().optional(),
  /** Pinned SSH host key of the node (SHA256:… fingerprint). */
  PROXMOX_SSH_HOST_KEY: z.string().optional(),
};

export const api = {
  /** Port of the HTTP API. */
  API_PORT: port.default(8001),
  /** Address the API listens on. */
  API_HOST: z.string().default('127.0.0.1'),
  /** First admin API key, created at start-up if no admin key exists; refused when weak (a pattern, few distinct characters). */
  GLASSDOME_ADMIN_KEY: z
    .string()
    .min(24, 'must be at least 24 characters')
    .superRefine((value, ctx) => {
      const reason = weakApiKeyReason(value);
      if (reason) ctx.addIssue({ code: 'custom', message: reason });
    })
    .optional(),
  /** Requests per minute allowed per API key. */
  API_RATE_LIMIT: z.coerce.number().int().positive().default(600),
  /** Requests per minute allowed per client address, counted before the key is looked up. */
  API_RATE_LIMIT_PER_ADDRESS: z.coerce.number().int().positive().default(2400),
  /** Bearer token `/metrics` requires; without it `/metrics` answers anyone who reaches the API. */
  METRICS_KEY: z
    .string()
    .min(24, 'must be at least 24 characters')
    .superRefine((value, ctx) => {
      const reason = weakApiKeyReason(value);
      if (reason) ctx.addIssue({ code: 'custom', message: reason });
    })
    .optional(),
  /** Lab event streams one API key may hold open at once. */
  SSE_MAX_PER_KEY: z.coerce.number().int().positive().default(8),
  /** Lab event streams one API process holds open at once. */
  SSE_MAX_PER_PROCESS: z.coerce.number().int().positive().default(500),
  /** Seconds after which a lab event stream ends (clients reconnect with Last-Event-ID). */
  SSE_LIFETIME_SECONDS: z.coerce.number().int().positive().default(1800),
  /** Days events are kept. */
  EVENT_RETENTION_DAYS: z.coerce.number().positive().default(90),
  /** Hours an Idempotency-Key's answer is kept for replays. */
  IDEMPOTENCY_RETENTION_HOURS: z.coerce.number().positive().default(24),
};

/** Per-project quotas when a project has no overrides of its own (PUT /projects/:name/quotas). */
export const quotas = {
  /** VMs a project may hold at once (standalone and lab VMs not destroyed). */
  QUOTA_MAX_VMS: z.coerce.number().int().min(0).default(1000),
  /** Lab copies a project may hold at once. */
  QUOTA_MAX_COPIES: z.coerce.number().int().min(0).default(200),
  /** vCPUs a project's VMs may hold at once. */
  QUOTA_MAX_VCPUS: z.coerce.number().int().min(0).default(4000),
  /** MiB of memory a project's VMs may hold at once. */
  QUOTA_MAX_MEMORY_MIB: z.coerce
    .number()
    .int()
    .min(0)
    .default(8 * 1024 * 1024),
  /** Longest TTL a lab may ask for, in seconds. */
  QUOTA_MAX_LAB_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .default(30 * 24 * 3600),
};

/** Which templates clones may come from besides those Glassdome registered. */
export const templates = {
  /** Template VMID per OS, `os=vmid` pairs separated by commas (a template built by the gateway wins). */
  TEMPLATE_VMIDS: z
    .string()
    .regex(/^([a-z0-9.-]+=\d+)(,[a-z0-9.-]+=\d+)*$/, 'must be os=vmid pairs, e.g. ubuntu-22.04=9000')
    .default('ubuntu-22.04=9000'),
};

/** TEMPLATE_VMIDS as OS → VMID. */
export function parseTemplateVmids(value: string): Map<string, number> {
  return new Map(
    value
      .split(',')
      .map((pair) => pair.split('='))
      .map(([os, vmid]) => [os!, Number(vmid)]),
  );
}

/** Lab networks: how the gateway makes them and the SDN zone Glassdome owns (the overseer reconciles it). */
export const network = {
  /**
   * How lab networks are made: `sdn` = one VNet per lab network per copy in Glassdome's own SDN VLAN
   * zone (applied with PUT /cluster/sdn); `vlan` = a leased tag on the VLAN-aware bridge, where SDN is absent.
   */
  NETWORK_MODE: z.enum(['sdn', 'vlan']).default('sdn'),
  /** The SDN zone Glassdome owns (created on first use as a VLAN zone on PROXMOX_BRIDGE; at most 8 characters). */
  SDN_ZONE: z
    .string()
    .regex(/^[a-z][a-z0-9]{1,7}$/, 'must be 2-8 lowercase letters and digits, starting with a letter')
    .default('gdlab'),
};

export const worker = {
  /** Jobs one worker process runs at once. */
  WORKER_CONCURRENCY: z.coerce.number().int().positive().default(8),
  /** Seconds a stopping worker waits for in-flight jobs before handing them back. */
  WORKER_SHUTDOWN_SECONDS: z.coerce.number().positive().default(20),
  /** Seconds a job's lock lives without renewal: how soon a dead worker's jobs are resumed elsewhere. */
  WORKER_LOCK_SECONDS: z.coerce.number().positive().default(30),
};

export const helpers = { port, flag, postgresUrl, redisUrl };
