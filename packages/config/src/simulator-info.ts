/**
 * What a running Proxmox simulator (apps/pve-sim) tells its clients, declared once: the simulator
 * writes it as JSON to PVE_SIM_INFO_FILE once listening; the launcher and the test kit read that
 * file with this schema instead of trusting a cast.
 */
import { z } from 'zod';

/** What the HTTPS API side knows as soon as it listens. */
export const simulatorApiInfoSchema = z.object({
  /** e.g. https://127.0.0.1:8006 (clients add /api2/json). */
  apiUrl: z.string(),
  /** SHA-256 fingerprint of the API certificate, AB:CD:…; null over plain HTTP. */
  tlsFingerprint: z.string().nullable(),
  /** PEM of the CA that signed the API certificate; null over plain HTTP. */
  caCert: z.string().nullable(),
  /** The deploy token, `glassdome@pve!deploy`. */
  tokenId: z.string(),
  tokenSecret: z.string(),
  /** Password of root@pam (API tickets and the node's SSH). */
  rootPassword: z.string(),
  /** The first node, holding the default template. */
  node: z.string(),
  storage: z.string(),
  bridge: z.string(),
  templateVmid: z.number().int(),
  /** Base of the simulator's own control endpoint (`/_sim`: faults, clock, save). */
  adminUrl: z.string(),
  /** Bearer secret of the admin endpoint. */
  adminSecret: z.string(),
  /** How often the simulated pve-firewall compiles the rules (10 s on Proxmox VE, scaled). */
  firewallUpdateMs: z.number().min(0).optional(),
});

/** What the SSH side adds once it listens (`pnpm sim` always starts it). */
export const simulatorSshInfoSchema = z.object({
  /** Port of the node's SSH (root shell with qm, pveum, pvesm, pvesh). */
  sshPort: z.number().int(),
  sshUser: z.string(),
  /** The node's host key, `SHA256:…`. */
  sshHostKeyFingerprint: z.string(),
  /** The node's host public key, `ssh-ed25519 AAAA…`. */
  sshHostPublicKey: z.string(),
  /** Private key root logs in with; absent when the simulator was given authorized_keys instead. */
  sshPrivateKeyPath: z.string().optional(),
  /** Port every guest's SSH listens on at its address. */
  guestSshPort: z.number().int(),
});

/** The whole info file. */
export const simulatorInfoSchema = simulatorApiInfoSchema.extend(simulatorSshInfoSchema.shape);

export type SimulatorApiInfo = z.infer<typeof simulatorApiInfoSchema>;
export type SimulatorSshInfo = z.infer<typeof simulatorSshInfoSchema>;
export type SimulatorInfo = z.infer<typeof simulatorInfoSchema>;
