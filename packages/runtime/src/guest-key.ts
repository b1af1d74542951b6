import { readFileSync } from 'node:fs';
import { CredentialStore, type Db, deleteSealedCredentialsByPrefix, parseSecretKey } from '@glassdome/db';
import ssh2 from 'ssh2';
import { DEFAULT_PLATFORM } from './platform';

export interface GuestKey {
  privateKey: string;
  /** `ssh-ed25519 AAAA… glassdome`, added to every VM's authorized keys. */
  publicKey: string;
}

const KIND = 'guest_ssh_key';

function publicKeyOf(privateKey: string): string {
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`guest SSH key does not parse: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return `${key.type} ${key.getPublicSSH().toString('base64')} glassdome`;
}

/**
 * The key Glassdome logs into guests with: from GUEST_SSH_KEY_FILE, or sealed in Postgres (made once,
 * by whichever replica gets there first, so every replica uses the same one).
 */
export async function ensureGuestKey(
  db: Db,
  env: { GUEST_SSH_KEY_FILE?: string | undefined; GLASSDOME_SECRET_KEY?: string | undefined },
): Promise<GuestKey> {
  if (env.GUEST_SSH_KEY_FILE) {
    const privateKey = readFileSync(env.GUEST_SSH_KEY_FILE, 'utf8');
    return { privateKey, publicKey: publicKeyOf(privateKey) };
  }
  if (!env.GLASSDOME_SECRET_KEY) {
    throw new Error('set GUEST_SSH_KEY_FILE, or GLASSDOME_SECRET_KEY so a guest key can be sealed in Postgres');
  }
  const credentials = new CredentialStore(db, parseSecretKey(env.GLASSDOME_SECRET_KEY));
  const privateKey = await credentials.readOrCreate(DEFAULT_PLATFORM, KIND, generateGuestKey);
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/**
 * A new ed25519 key that ssh2 itself can read: its generator drops a leading zero byte of the public
 * half about once in 256 keys and then refuses its own output, so such a key is made again.
 */
export function generateGuestKey(comment?: string): string {
  for (;;) {
    const candidate = ssh2.utils.generateKeyPairSync('ed25519', comment ? { comment } : {}).private;
    if (!(ssh2.utils.parseKey(candidate) instanceof Error)) return candidate;
  }
}

/** Where a lab copy's key is sealed: one credential per copy, all of a lab's under one prefix. */
function labKeyPrefix(labId: string): string {
  return `${KIND}:lab:${labId}:`;
}

/**
 * The key pair Glassdome logs into the VMs of one lab copy with: made on first use and sealed in
 * Postgres (every replica gets the one stored first), so a copy's guests trust only their own key
 * and a key lifted from one copy opens no other. Needs GLASSDOME_SECRET_KEY.
 */
export async function labCopyGuestKey(
  db: Db,
  env: { GLASSDOME_SECRET_KEY?: string | undefined },
  labId: string,
  copy: number,
): Promise<GuestKey> {
  if (!env.GLASSDOME_SECRET_KEY) {
    throw new Error('a key per lab copy is sealed in Postgres: set GLASSDOME_SECRET_KEY');
  }
  if (!Number.isInteger(copy) || copy < 0) throw new Error(`lab copy must be a whole number ≥ 0, not ${copy}`);
  const credentials = new CredentialStore(db, parseSecretKey(env.GLASSDOME_SECRET_KEY));
  const privateKey = await credentials.readOrCreate(DEFAULT_PLATFORM, `${labKeyPrefix(labId)}${copy}`, () =>
    generateGuestKey(`glassdome lab ${labId} copy ${copy}`),
  );
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/**
 * Forgets the keys of every copy of a lab (once it is destroyed); returns how many there were. Needs
 * no secret: a sealed row is deleted without being opened.
 */
export function forgetLabCopyKeys(db: Db, labId: string): Promise<number> {
  return deleteSealedCredentialsByPrefix(db, DEFAULT_PLATFORM, labKeyPrefix(labId));
}

/** Whose key a VM trusts: its lab copy's, or (a VM of no lab) the installation's. */
export interface GuestKeyOwner {
  lab_id: string | null;
  copy: number | null;
}

/** Lab copy keys kept unsealed in memory at most; beyond that the oldest is unsealed again when asked. */
const cachedCopyKeys = 512;

/**
 * The key Glassdome logs into a VM with. A lab VM gets its copy's own key pair, so a key lifted from
 * one copy opens no other; a VM deployed on its own gets the installation's key. Without
 * GLASSDOME_SECRET_KEY no per-copy key can be sealed and lab VMs fall back to the installation key
 * (`perCopy` says which). Unsealed copy keys are cached per process; a destroyed lab's keys are
 * forgotten in Postgres, and the stale cache entry opens nothing because its VMs are gone.
 */
export class GuestKeys {
  readonly #copies = new Map<string, Promise<GuestKey>>();

  constructor(
    private readonly db: Db,
    private readonly env: { GLASSDOME_SECRET_KEY?: string | undefined },
    /** The installation's key (ensureGuestKey), for VMs of no lab. */
    readonly installation: GuestKey,
  ) {}

  /** Whether lab copies get keys of their own (GLASSDOME_SECRET_KEY is set). */
  get perCopy(): boolean {
    return Boolean(this.env.GLASSDOME_SECRET_KEY);
  }

  forVm(vm: GuestKeyOwner): Promise<GuestKey> {
    if (!vm.lab_id || !this.perCopy) return Promise.resolve(this.installation);
    const id = `${vm.lab_id}:${vm.copy ?? 0}`;
    let key = this.#copies.get(id);
    if (!key) {
      key = labCopyGuestKey(this.db, this.env, vm.lab_id, vm.copy ?? 0);
      key.catch(() => this.#copies.delete(id));
      if (this.#copies.size >= cachedCopyKeys) this.#copies.delete(this.#copies.keys().next().value!);
      this.#copies.set(id, key);
    }
    return key;
  }
}
