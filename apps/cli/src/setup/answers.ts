/** What `glassdome setup` asks for; every field can also come from a flag or the variable the services read. */
export interface SetupAnswers {
  apiUrl: string;
  /** May be left out: the config then holds no key and commands need --api-key or GLASSDOME_API_KEY. */
  apiKey?: string;
  proxmoxUrl: string;
  node: string;
  /** Storage cloned disks go to. */
  storage: string;
  /** Bridge VM NICs attach to (VLAN-aware for labs). */
  bridge: string;
  tokenId: string;
  tokenSecret: string;
  /** Pinned TLS fingerprint; when absent, setup pins what the server presents (and shows it). */
  tlsFingerprint?: string;
  /** `host` or `host:port` of the gateway's SSH login on the node. */
  sshHost: string;
  sshUser: string;
  sshKeyFile: string;
  /** Pinned SSH host key (`SHA256:…`); when absent, setup pins what the server presents (and shows it). */
  sshHostKey?: string;
  redisUrl: string;
  queuePrefix: string;
  databaseUrl: string;
}

/** Each answer's flag, the environment variable it falls back to, and its default. */
export const SETUP_FIELDS: {
  key: keyof SetupAnswers;
  flag: string;
  env: string;
  describe: string;
  secret?: boolean;
  fallback?: string;
}[] = [
  {
    key: 'apiUrl',
    flag: 'api-url',
    env: 'GLASSDOME_URL',
    describe: 'Glassdome API URL',
    fallback: 'http://127.0.0.1:8001',
  },
  { key: 'apiKey', flag: 'api-key', env: 'GLASSDOME_API_KEY', describe: 'Glassdome API key', secret: true },
  {
    key: 'proxmoxUrl',
    flag: 'proxmox-url',
    env: 'PROXMOX_URL',
    describe: 'Proxmox API URL',
    fallback: 'https://127.0.0.1:8006',
  },
  { key: 'node', flag: 'node', env: 'PROXMOX_NODE', describe: 'Proxmox node VMs go on', fallback: 'pve01' },
  {
    key: 'storage',
    flag: 'storage',
    env: 'PROXMOX_STORAGE',
    describe: 'storage for cloned disks',
    fallback: 'local-lvm',
  },
  {
    key: 'bridge',
    flag: 'bridge',
    env: 'PROXMOX_BRIDGE',
    describe: 'bridge VM NICs attach to',
    fallback: 'vmbr0',
  },
  {
    key: 'tokenId',
    flag: 'token-id',
    env: 'PROXMOX_TOKEN_ID',
    describe: 'API token id (user@realm!name)',
    fallback: 'glassdome@pve!deploy',
  },
  { key: 'tokenSecret', flag: 'token-secret', env: 'PROXMOX_TOKEN_SECRET', describe: 'API token secret', secret: true },
  {
    key: 'tlsFingerprint',
    flag: 'tls-fingerprint',
    env: 'PROXMOX_TLS_FINGERPRINT',
    describe: 'expected TLS fingerprint (AB:CD:…)',
  },
  { key: 'sshHost', flag: 'ssh-host', env: 'PROXMOX_SSH_HOST', describe: 'SSH host of the node (host or host:port)' },
  { key: 'sshUser', flag: 'ssh-user', env: 'PROXMOX_SSH_USER', describe: 'SSH user on the node', fallback: 'root' },
  { key: 'sshKeyFile', flag: 'ssh-key-file', env: 'PROXMOX_SSH_KEY_FILE', describe: 'SSH private key file' },
  {
    key: 'sshHostKey',
    flag: 'ssh-host-key',
    env: 'PROXMOX_SSH_HOST_KEY',
    describe: 'expected SSH host key (SHA256:…)',
  },
  { key: 'redisUrl', flag: 'redis-url', env: 'REDIS_URL', describe: 'Redis URL', fallback: 'redis://127.0.0.1:6379' },
  {
    key: 'queuePrefix',
    flag: 'queue-prefix',
    env: 'QUEUE_PREFIX',
    describe: 'queue key prefix',
    fallback: '{glassdome}',
  },
  {
    key: 'databaseUrl',
    flag: 'database-url',
    env: 'DATABASE_URL',
    describe: 'Postgres URL',
    fallback: 'postgres://postgres@127.0.0.1:5432/glassdome',
  },
];

/** `host:port` split, port 22 when left out. */
export function sshEndpoint(sshHost: string): { host: string; port: number } {
  const match = /^(.*?)(?::(\d+))?$/.exec(sshHost.trim())!;
  return { host: match[1]!, port: match[2] ? Number(match[2]) : 22 };
}
