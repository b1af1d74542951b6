import type { Db } from '@glassdome/db';
import { sql } from 'kysely';

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
  await db
    .insertInto('platforms')
    .values({
      id: DEFAULT_PLATFORM,
      api_url: env.PROXMOX_URL,
      node: env.PROXMOX_NODE,
      token_id: env.PROXMOX_TOKEN_ID,
      tls_fingerprint: env.PROXMOX_TLS_FINGERPRINT ?? null,
    })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        api_url: env.PROXMOX_URL,
        node: env.PROXMOX_NODE,
        token_id: env.PROXMOX_TOKEN_ID,
        tls_fingerprint: env.PROXMOX_TLS_FINGERPRINT ?? null,
        updated_at: sql`now()`,
      }),
    )
    .execute();
}
