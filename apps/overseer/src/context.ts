import type { Db } from '@glassdome/db';
import type { Logger } from '@glassdome/logger';
import type { Proxmox } from '@glassdome/proxmox';
import type { Producer } from '@glassdome/queue';
import type { OutboxRelay } from '@glassdome/runtime';
import type { OverseerEnv } from './env';
import type { OverseerMetrics } from './metrics';
import type { RemediationPolicy } from './policy';
import type { RedriveSettings } from './redrive';
import type { WebhookTargets } from './webhook';

/** Tunables of scans and remediations, read once from the environment. */
export interface OverseerSettings {
  /** Share of a storage in use (0–1) above which it is reported. */
  storageThreshold: number;
  /** Seconds of uptime after which a running VM without an IP is reported. */
  noIpAfterSeconds: number;
  /** Seconds a step may stay running before it is reported stuck. */
  stepBoundSeconds: number;
  /** Guests' SSH port to probe for a banner; undefined turns the probe off. */
  sshProbePort: number | undefined;
  /** Where alert changes are POSTed (sealed into Postgres at start; jobs carry their ids). */
  webhookUrls: string[];
  /** Internal ranges webhooks may reach anyway (OVERSEER_WEBHOOK_ALLOW_PRIVATE); by default none. */
  webhookAllowPrivate?: string[];
  /** Key of the webhook HMAC signature; unsigned when undefined. */
  webhookSecret: string | undefined;
  policy: RemediationPolicy;
  /** When rows no job works on are re-driven, and how often before they are failed. */
  redrive: RedriveSettings;
  /** Names this process in scan records. */
  replica: string;
  /** Seconds between two isolation checks of a live lab. */
  isolationSeconds: number;
  /** How lab networks are made, and the SDN zone whose VNets are reconciled against the leases. */
  network: { mode: 'sdn' | 'vlan'; zone: string };
}

export interface OverseerContext {
  db: Db;
  producer: Producer;
  relay: OutboxRelay;
  pve: Proxmox;
  logger: Logger;
  settings: OverseerSettings;
  metrics: OverseerMetrics;
  /** The webhook targets, sealed; absent when none are configured. */
  webhooks?: WebhookTargets | undefined;
}

export function settingsFromEnv(env: OverseerEnv, replica: string): OverseerSettings {
  return {
    storageThreshold: env.OVERSEER_STORAGE_THRESHOLD,
    noIpAfterSeconds: env.OVERSEER_NO_IP_SECONDS,
    stepBoundSeconds: env.OVERSEER_STEP_BOUND_SECONDS,
    sshProbePort: env.OVERSEER_SSH_PROBE ? env.GUEST_SSH_PORT : undefined,
    webhookUrls: env.OVERSEER_WEBHOOK_URLS,
    webhookAllowPrivate: env.OVERSEER_WEBHOOK_ALLOW_PRIVATE,
    webhookSecret: env.OVERSEER_WEBHOOK_SECRET,
    policy: {
      enabled: env.OVERSEER_REMEDIATIONS,
      maxAttempts: env.OVERSEER_REMEDIATION_MAX_ATTEMPTS,
      backoffMs: env.OVERSEER_REMEDIATION_BACKOFF_SECONDS * 1000,
      orphanGraceMs: env.OVERSEER_ORPHAN_GRACE_SECONDS * 1000,
    },
    redrive: { graceSeconds: env.OVERSEER_REDRIVE_GRACE_SECONDS, maxRedrives: env.OVERSEER_REDRIVE_MAX },
    replica: env.OVERSEER_REPLICA ?? replica,
    isolationSeconds: env.OVERSEER_ISOLATION_SECONDS,
    network: { mode: env.NETWORK_MODE, zone: env.SDN_ZONE },
  };
}
