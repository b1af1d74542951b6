import { connect, type TLSSocket } from 'node:tls';

/** How long the TLS handshake that reads the certificate may take. */
const HANDSHAKE_TIMEOUT_MS = 5_000;

/** `ab:cd:…`, `ABCD…` → `ABCD…`, so fingerprints compare whatever their spelling. */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replace(/[^0-9a-f]/gi, '').toUpperCase();
}

/**
 * A TLS connection to the URL's host and port whose certificate has not been judged yet. The chain is
 * not checked on purpose: Proxmox signs its certificate with a per-cluster CA nobody else trusts, so
 * the certificate is trusted by its pinned fingerprint instead (see docs/proxmox.md).
 */
function handshake(url: string): Promise<TLSSocket> {
  const { hostname, port } = new URL(url);
  const isIp = /^[\d.]+$|:/.test(hostname);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: hostname.replace(/^\[|\]$/g, ''),
      port: Number(port || 443),
      rejectUnauthorized: false,
      ...(isIp ? {} : { servername: hostname }),
    });
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy(new Error('no TLS handshake in time')));
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * The SHA-256 fingerprint of the certificate a server presents (`AB:CD:…`). This handshake sends
 * nothing; it only reads the certificate so the operator can compare it and setup can pin it.
 */
export async function presentedFingerprint(url: string): Promise<string> {
  const socket = await handshake(url);
  const fingerprint = socket.getPeerCertificate().fingerprint256;
  socket.end();
  if (!fingerprint) throw new Error('the server presented no certificate');
  return fingerprint;
}

/** A connection to `url` whose certificate matched `fingerprint`; nothing is written to any other. */
export async function pinnedTlsSocket(url: string, fingerprint: string): Promise<TLSSocket> {
  const socket = await handshake(url);
  const presented = socket.getPeerCertificate().fingerprint256 ?? '';
  if (normalizeFingerprint(presented) !== normalizeFingerprint(fingerprint)) {
    socket.destroy();
    throw new Error(`${url} presents TLS fingerprint ${presented || '(none)'}, not the pinned ${fingerprint}`);
  }
  return socket;
}
