/** pve-sim's environment, parsed once at start-up (`pnpm sim`, or as a child process of a test). */
import { vars } from '@glassdome/config';
import { z } from 'zod';

const { port, flag } = vars.helpers;

export const simEnvSchema = z.object({
  /** Port of the HTTPS (or HTTP) API; 0 picks a free port (reported in the info file). */
  PVE_SIM_PORT: port.default(8006),
  /** Port of the simulated node's SSH daemon (the SSH side). */
  PVE_SIM_SSH_PORT: port.default(2222),
  /** Address to listen on. */
  PVE_SIM_HOST: z.string().default('127.0.0.1'),
  /** 1 = HTTPS only (like PVE), 0 = plain HTTP (tests). */
  PVE_SIM_TLS: flag.default(true),
  /** Multiplier on every latency: 1 = realistic (agent up ~8 s after start), 0.01 for tests. */
  PVE_SIM_TIME_SCALE: z.coerce.number().positive().default(1),
  /** Seed for MACs, UUIDs and fault decisions. */
  PVE_SIM_SEED: z.coerce.number().int().default(1),
  /** Snapshot file: loaded at start if present, saved on SIGTERM and by POST /_sim/save. */
  PVE_SIM_STATE_FILE: z.string().optional(),
  /** Secret of the default deploy token glassdome@pve!deploy (random UUID if unset). */
  PVE_SIM_TOKEN_SECRET: z.string().min(1).optional(),
  /** Password of root@pam (random if unset; printed at start). */
  PVE_SIM_ROOT_PASSWORD: z.string().min(1).optional(),
  /** Bearer secret of the /_sim admin endpoint (defaults to the root password). */
  PVE_SIM_ADMIN_SECRET: z.string().min(8).optional(),
  /** JSON file written once listening: apiUrl, tlsFingerprint, tokenId, tokenSecret, node, … */
  PVE_SIM_INFO_FILE: z.string().optional(),
  /** Network that DHCP guest addresses come from (base + vmid). */
  PVE_SIM_GUEST_SUBNET: z
    .string()
    .regex(/^\d+\.\d+\.\d+\.\d+\/(8|9|1\d|2[0-4])$/, 'must be an IPv4 CIDR with prefix 8..24, e.g. 127.64.0.0/16')
    .default('127.64.0.0/16'),
  /** Port guests' SSH daemons listen on (the SSH side). */
  PVE_SIM_GUEST_SSH_PORT: port.default(22),
  /** authorized_keys file whose keys may log in to the node's SSH as root; unset = a key pair is generated (see the info file's sshPrivateKeyPath). */
  PVE_SIM_SSH_AUTHORIZED_KEYS: z.string().optional(),
  /** Where the generated root private key is written when PVE_SIM_SSH_AUTHORIZED_KEYS is unset (default: beside the info file). */
  PVE_SIM_SSH_KEY_FILE: z.string().optional(),
  /** Comma-separated node names; the first holds template 9000. */
  PVE_SIM_NODES: z
    .string()
    .regex(/^[a-zA-Z0-9-]+(,[a-zA-Z0-9-]+)*$/, 'must be comma-separated node names')
    .default('pve01'),
  /** Capacity of each node's local-lvm in GiB. */
  PVE_SIM_STORAGE_GIB: z.coerce.number().int().positive().default(512),
  /** JSON object of latency overrides in ms at time scale 1, e.g. {"fullClonePerDisk":5000}. */
  PVE_SIM_LATENCIES: z.string().optional(),
  /** JSON object of faults active from the start (same shape as POST /_sim/faults). */
  PVE_SIM_FAULTS: z.string().optional(),
  /** Error bodies: modern (with `message`, libpve-http-server >= 5.2) or legacy (status line only). */
  PVE_SIM_ERROR_ENVELOPE: z.enum(['modern', 'legacy']).default('modern'),
  LOG_LEVEL: vars.backing.LOG_LEVEL,
  LOG_FORMAT: vars.backing.LOG_FORMAT,
});

export type SimEnv = z.infer<typeof simEnvSchema>;
