import { isIP } from 'node:net';
import { loadEnv, vars } from '@glassdome/config';
import { z } from 'zod';

/** The remediation actions the overseer knows (the `overseer.remediate` job's `action`). */
export const REMEDIATION_ACTIONS = [
  'start-vm',
  'rewait-agent',
  'reboot-vm',
  'reclone-vm',
  'destroy-orphan',
  'expire-lab',
  'restore-firewall',
  'release-network',
  'delete-vnet',
] as const;
export type RemediationAction = (typeof REMEDIATION_ACTIONS)[number];

/** Actions this overseer can run. */
export const SUPPORTED_ACTIONS = REMEDIATION_ACTIONS;

const actionList = z
  .string()
  .refine(
    (value) =>
      value === 'none' ||
      value.split(',').every((name) => (SUPPORTED_ACTIONS as readonly string[]).includes(name.trim())),
    { message: `must be "none" or a comma-separated list of ${SUPPORTED_ACTIONS.join(', ')}` },
  )
  .transform((value) =>
    value === 'none'
      ? new Set<RemediationAction>()
      : new Set(value.split(',').map((n) => n.trim() as RemediationAction)),
  );

const seconds = z.coerce.number().positive();

export const overseerEnv = z.object({
  ...vars.backing,
  ...vars.proxmox,
  ...vars.worker,
  ...vars.network,
  /** Seconds between two inventory scans of a platform (fractions allowed, for tests). */
  OVERSEER_SCAN_SECONDS: seconds.default(30),
  /** Share of a storage's capacity in use (0–1) above which it is reported. */
  OVERSEER_STORAGE_THRESHOLD: z.coerce.number().gt(0).max(1).default(0.85),
  /** Seconds a running VM may go without an IP before it is reported. */
  OVERSEER_NO_IP_SECONDS: seconds.default(600),
  /** Seconds a deploy step may stay running before it is reported as stuck. */
  OVERSEER_STEP_BOUND_SECONDS: seconds.default(1800),
  /** 1: probe each ready VM's SSH port for a banner every scan. */
  OVERSEER_SSH_PROBE: vars.helpers.flag.default(true),
  /** Port guests' SSH listens on (22 on real guests; the simulator's tests use another). */
  GUEST_SSH_PORT: vars.helpers.port.default(22),
  /** Comma-separated webhook URLs that get every alert opened, acknowledged or resolved. */
  OVERSEER_WEBHOOK_URLS: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((url) => url.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().url())),
  /**
   * CIDRs webhooks may post to although they are internal (private, loopback, link-local…), comma-separated;
   * by default webhooks reach public addresses only.
   */
  OVERSEER_WEBHOOK_ALLOW_PRIVATE: z
    .string()
    .default('')
    .transform((value) =>
      value
        .split(',')
        .map((cidr) => cidr.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z.string().refine((cidr) => {
          const [net, prefix] = cidr.split('/');
          const bits = isIP(net ?? '') === 6 ? 128 : 32;
          return isIP(net ?? '') !== 0 && /^\d{1,3}$/.test(prefix ?? '') && Number(prefix) <= bits;
        }, 'must be CIDRs such as 10.0.5.0/24'),
      ),
    ),
  /** Key of the `X-Glassdome-Signature` HMAC-SHA256 header on webhook posts (unsigned when unset). */
  OVERSEER_WEBHOOK_SECRET: z.string().min(16).optional(),
  /** Seconds between two isolation checks of a live lab (re-run from inside its guests by the installer). */
  OVERSEER_ISOLATION_SECONDS: z.coerce.number().positive().default(900),
  /** Remediations that may run, comma-separated, or `none`. destroy-orphan and delete-vnet are off by default. */
  OVERSEER_REMEDIATIONS: actionList.prefault(
    'start-vm,rewait-agent,reboot-vm,reclone-vm,expire-lab,restore-firewall,release-network',
  ),
  /** Failed attempts of one remediation (while its alert stays open) before the circuit breaker opens. */
  OVERSEER_REMEDIATION_MAX_ATTEMPTS: z.coerce.number().int().positive().default(3),
  /** Seconds after a failed attempt before the next; doubles with each further failure. */
  OVERSEER_REMEDIATION_BACKOFF_SECONDS: z.coerce.number().min(0).default(60),
  /** Seconds an orphan (VM or VNet) must have been reported before destroy-orphan or delete-vnet may remove it. */
  OVERSEER_ORPHAN_GRACE_SECONDS: z.coerce
    .number()
    .min(0)
    .default(24 * 3600),
  /** Port of the Prometheus /metrics endpoint; 0 picks a free one, unset serves none. */
  OVERSEER_METRICS_PORT: vars.helpers.port.optional(),
  /** Address the /metrics endpoint listens on (0.0.0.0 to be scraped from other hosts). */
  OVERSEER_METRICS_HOST: z.string().default('127.0.0.1'),
  /** Seconds between two re-drive sweeps of a platform (fractions allowed, for tests). */
  OVERSEER_REDRIVE_SECONDS: seconds.default(30),
  /** Seconds a queued/deploying/destroying row must be without a job and unchanged before it is re-driven. */
  OVERSEER_REDRIVE_GRACE_SECONDS: seconds.default(120),
  /** Re-drives of one row without progress before it is failed with the reason instead. */
  OVERSEER_REDRIVE_MAX: z.coerce.number().int().min(0).default(3),
  /** Name of this replica in scan records (defaults to host:pid). */
  OVERSEER_REPLICA: z.string().min(1).max(100).optional(),
});

export type OverseerEnv = z.infer<typeof overseerEnv>;

export function readEnv(): OverseerEnv {
  return loadEnv(overseerEnv, 'overseer');
}
