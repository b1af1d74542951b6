import { type Db, upsertPlatform } from '@glassdome/db';

/** The platform configured by the PROXMOX_* variables. */
export const DEFAULT_PLATFORM = 'default';

/** Records the configured platform (no secret: token secrets stay in the environment or sealed credentials). */
export async function ensurePlatform(
  db: Db,
  env: {
    PROXMOX_URL: string;
    PROXMOX_NODE: string;
    PROXMOX_TOKEN_ID: string;
    PROXMOX_TLS_FINGERPRINT?: string | undefined;
  },
): Promise<void> {
  await upsertPlatform(db, {
    id: DEFAULT_PLATFORM,
    apiUrl: env.PROXMOX_URL,
    node: env.PROXMOX_NODE,
    tokenId: env.PROXMOX_TOKEN_ID,
    tlsFingerprint: env.PROXMOX_TLS_FINGERPRINT ?? null,
  });
}
