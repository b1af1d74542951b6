import { createProxmox, type Proxmox } from '@glassdome/proxmox';
import type { ConfigFile } from './config-file';

export type ProxmoxSection = NonNullable<ConfigFile['proxmox']>;

/**
 * A Proxmox client for what the config file pins: token auth, and the certificate trusted by its
 * fingerprint only (never "accept anything"); a plain-http URL (the simulator without TLS) needs none.
 */
export function proxmoxOf(section: ProxmoxSection): Proxmox {
  return createProxmox({
    baseUrl: section.url,
    node: section.node,
    auth: { tokenId: section.tokenId, tokenSecret: section.tokenSecret },
    ...(section.tlsFingerprint ? { tls: { fingerprint: section.tlsFingerprint } } : {}),
    timeoutMs: 5_000,
    // A check answers the operator now: one attempt, not the workers' patient backoff.
    retry: { attempts: 1 },
  });
}
