/**
 * The API certificate: like PVE, a per-cluster CA (`PVE Cluster Manager CA`) signing the node's
 * certificate with SANs for localhost, 127.0.0.1 and the node name. Clients pin its SHA-256
 * fingerprint (uppercase colon-hex, as `GET /nodes` reports `ssl_fingerprint`) or trust the CA.
 */
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

export interface ApiCertificate {
  key: string;
  cert: string;
  caCert: string;
  /** SHA-256, `AB:CD:…`. */
  fingerprint: string;
}

export async function createApiCertificate(node: string, host: string): Promise<ApiCertificate> {
  const notAfterDate = new Date(Date.now() + 2 * 365 * 24 * 3600 * 1000);
  const ca = await generate(
    [
      { name: 'commonName', value: 'Proxmox Virtual Environment' },
      { name: 'organizationName', value: 'PVE Cluster Manager CA' },
    ],
    {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate: new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    },
  );
  const altNames: Array<{ type: 2 | 7; value?: string; ip?: string }> = [
    { type: 2, value: 'localhost' },
    { type: 2, value: node },
    { type: 7, ip: '127.0.0.1' },
    { type: 7, ip: '::1' },
  ];
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host) && host !== '127.0.0.1') altNames.push({ type: 7, ip: host });
  else if (!/^\d/.test(host) && host !== 'localhost') altNames.push({ type: 2, value: host });
  const leaf = await generate(
    [
      { name: 'commonName', value: node },
      { name: 'organizationName', value: 'Proxmox Virtual Environment' },
      { shortName: 'OU', value: 'PVE Cluster Node' },
    ],
    {
      keySize: 2048,
      algorithm: 'sha256',
      notAfterDate,
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames },
      ],
    },
  );
  return {
    key: leaf.private,
    cert: leaf.cert,
    caCert: ca.cert,
    fingerprint: new X509Certificate(leaf.cert).fingerprint256,
  };
}
