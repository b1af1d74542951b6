import { vars } from '@glassdome/config';
import { z } from 'zod';

/** Everything the API process reads from its environment, parsed once at start-up. */
export const apiEnvSchema = z.object({
  ...vars.backing,
  ...vars.api,
  /** Node that standalone VMs and templates are placed on unless a request names another. */
  PROXMOX_NODE: vars.proxmox.PROXMOX_NODE,
  /** Largest request body in bytes (JSON or YAML); bigger bodies get 413. */
  API_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(1024 * 1024),
});

export type ApiEnv = z.infer<typeof apiEnvSchema>;
