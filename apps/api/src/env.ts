import { vars } from '@glassdome/config';
import { z } from 'zod';

/** Everything the API process reads from its environment, parsed once at start-up. */
export const apiEnvSchema = z.object({
  ...vars.backing,
  ...vars.api,
  ...vars.quotas,
  ...vars.templates,
  /** Node that standalone VMs and templates are placed on unless a request names another. */
  PROXMOX_NODE: vars.proxmox.PROXMOX_NODE,
  /** Largest request body in bytes (JSON or YAML); bigger bodies get 413. */
  API_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(1024 * 1024),
  /** Hours a web UI session lasts after sign-in. */
  WEB_SESSION_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(12),
  /** Directory of the web UI's build, served at `/`. @defaultValue apps/web/dist */
  WEB_DIST_DIR: z.string().optional(),
  /**
   * The TLS-terminating proxies in front of the API whose X-Forwarded-Proto is believed (so the
   * session cookie is Secure under TLS): addresses or CIDRs, comma-separated, `loopback`, or a hop
   * count. @defaultValue none: the API believes no proxy
   */
  API_TRUST_PROXY: z
    .string()
    .regex(
      /^(\d{1,2}|[0-9A-Za-z.:/]+(\s*,\s*[0-9A-Za-z.:/]+)*)$/,
      'must be a hop count or addresses, CIDRs and names (loopback, linklocal, uniquelocal), comma-separated',
    )
    .optional(),
  /** Key the API's web terminals log into guests with; else the one sealed in Postgres (needs GLASSDOME_SECRET_KEY). */
  GUEST_SSH_KEY_FILE: z.string().optional(),
  /** Guests' SSH port, for web terminals. */
  GUEST_SSH_PORT: vars.helpers.port.default(22),
  /** Seconds a confirmation token of an MCP acting tool stays good at /mcp (docs/mcp.md). */
  MCP_CONFIRM_TTL_SECONDS: z.coerce.number().int().min(1).max(3600).default(120),
});

export type ApiEnv = z.infer<typeof apiEnvSchema>;
