import { connect } from 'node:tls';

/** How long the TLS handshake that reads the certificate may take. */
const HANDSHAKE_TIMEOUT_MS = 5_000;

/**
 * The SHA-256 fingerprint of the certificate a server presents (`AB:CD:…`). The chain is not checked
 * here on purpose: this handshake sends nothing, it only reads the certificate so the operator can
 * compare it and setup can pin it; every later request is verified against that pin.
 */
export function presentedFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const isIp = /^[\d.]+$|:/.test(hostname);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: hostname,
      port: Number(port || 443),
      rejectUnauthorized: false,
      ...(isIp ? {} : { servername: hostname }),
    });
    socket.setTimeout(HANDSHAKE_TIMEOUT_MS, () => socket.destroy(new Error('no TLS handshake in time')));
    socket.once('secureConnect', () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      if (fingerprint) resolve(fingerprint);
      else reject(new Error('the server presented no certificate'));
    });
    socket.once('error', reject);
  });
}
