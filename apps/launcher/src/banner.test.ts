import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LocalSimulatorInfo } from '@glassdome/stack';
import { banner } from './banner';

const sim: LocalSimulatorInfo = {
  apiUrl: 'https://127.0.0.1:40001',
  tlsFingerprint: 'AB:CD',
  caCert: null,
  tokenId: 'glassdome@pve!deploy',
  tokenSecret: 'token-secret',
  rootPassword: 'root-password',
  node: 'pve01',
  storage: 'local-lvm',
  bridge: 'vmbr0',
  templateVmid: 9000,
  adminUrl: 'https://127.0.0.1:40001/_sim',
  adminSecret: 'admin-secret',
  sshPort: 40002,
  sshUser: 'root',
  sshHostKeyFingerprint: 'SHA256:host',
  sshHostPublicKey: 'ssh-ed25519 AAAA',
  sshPrivateKeyPath: '/state/sim/root_ed25519',
  guestSshPort: 40003,
};

const common = {
  apiUrl: 'http://127.0.0.1:8001',
  adminKey: 'gd_admin_key',
  adminKeyFrom: 'from GLASSDOME_ADMIN_KEY',
  stateDir: '/state',
  processes: 'api, 2 installers, gateway, overseer; pve-sim',
};

test('on the simulator the banner names the web UI, API, key, Bull Board, simulator API and admin, node and guest SSH', () => {
  const text = banner({ ...common, envFile: { path: '/state/glassdome.env', present: false }, env: {}, sim });
  for (const expected of [
    'running on the Proxmox simulator',
    'none (no /state/glassdome.env',
    'web UI:           http://127.0.0.1:8001/ (open it in a browser',
    'http://127.0.0.1:8001/api/v1',
    'http://127.0.0.1:8001/admin/queues',
    'gd_admin_key (from GLASSDOME_ADMIN_KEY)',
    'https://127.0.0.1:40001/api2/json (TLS fingerprint AB:CD)',
    'https://127.0.0.1:40001/_sim (Authorization: Bearer admin-secret)',
    'glassdome@pve!deploy=token-secret',
    'ssh root@127.0.0.1 -p 40002 -i /state/sim/root_ed25519 (host key SHA256:host)',
    "guests' SSH:      port 40003",
  ]) {
    assert.ok(text.includes(expected), `banner shows ${expected}:\n${text}`);
  }
});

test('on a real cluster it names the env file, the cluster and its pinned keys, and no simulator', () => {
  const env = {
    PROXMOX_URL: 'https://pve.example:8006',
    PROXMOX_NODE: 'pve7',
    PROXMOX_TOKEN_ID: 'glassdome@pve!deploy',
    PROXMOX_TLS_FINGERPRINT: '12:34',
    PROXMOX_SSH_HOST: 'pve.example:22',
    PROXMOX_SSH_HOST_KEY: 'SHA256:node',
  };
  const text = banner({ ...common, envFile: { path: '/state/glassdome.env', present: true }, env });
  assert.match(text, /running on Proxmox at https:\/\/pve\.example:8006 \(node pve7\)/);
  assert.match(text, /env file: +\/state\/glassdome\.env\n/);
  assert.match(text, /TLS fingerprint 12:34 pinned/);
  assert.match(text, /root@pve\.example:22 \(host key SHA256:node pinned\)/);
  assert.match(text, /guests' SSH: +port 22 /);
  assert.doesNotMatch(text, /simulator/);
});
