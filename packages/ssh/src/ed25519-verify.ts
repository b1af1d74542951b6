import { verify } from 'node:crypto';
import ssh2, { type ParsedKey } from 'ssh2';

/** An Ed25519 public key as SSH encodes it: string "ssh-ed25519", then string of the 32-byte point. */
const ED25519_BLOB_LENGTH = 4 + 'ssh-ed25519'.length + 4 + 32;

/** Any Ed25519 public key line: parsed only to reach the prototype ssh2 gives every key it parses. */
const SAMPLE_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx5v3gORUqmJUtHhtUlqWN8AD6a34MQOzTK9hlpKvT0';

/** ssh2's verify as it really answers: a failure inside it is returned, not thrown. */
type Verify = (this: ParsedKey, data: Buffer | string, signature: Buffer, algo?: string) => boolean | Error;

/** The wrapper, once installed. */
let wrapper: Verify | undefined;

/** The prototype ssh2 gives every key it parses (undefined if ssh2 no longer works that way). */
function keyPrototype(): { verify?: Verify } | undefined {
  const sample = ssh2.utils.parseKey(SAMPLE_KEY);
  return sample instanceof Error || Array.isArray(sample)
    ? undefined
    : (Object.getPrototypeOf(sample) as { verify?: Verify });
}

/**
 * Every new connection checks the server's signature of the key exchange with the host key (the
 * proof that the server holds the key the pin accepted). ssh2 hands the key to node:crypto as PEM
 * text, which OpenSSL decodes anew each time, trying one decoder after another: on this project's
 * 2-core machine such a check took 190 µs, against 120 µs with the key imported from its 32-byte
 * point (JWK), and a whole connection to OpenSSH's sshd (connect, key exchange, login, close) about
 * 0.3 ms less of the client's CPU (medians of 600 connections each, alternating). The check itself is
 * unchanged: the same key, signature and data go to the same Ed25519 verification, which answers
 * true or false (or an Error, as ssh2's does); any other key type keeps ssh2's own path.
 *
 * ssh2 gives every parsed key one shared prototype; its verify is wrapped there, once per process (a
 * host key is parsed inside ssh2's key exchange, out of our reach). The test in ssh-kex watches that
 * the wrapper is still the one in use.
 */
export function verifyEd25519FromRawKey(): void {
  if (wrapper) return;
  const prototype = keyPrototype();
  const original = prototype?.verify;
  if (!prototype || typeof original !== 'function') return;
  wrapper = function (data, signature, algo) {
    if (this.type !== 'ssh-ed25519' || algo || typeof data === 'string')
      return original.call(this, data, signature, algo);
    const blob = this.getPublicSSH();
    if (blob.length !== ED25519_BLOB_LENGTH) return original.call(this, data, signature, algo);
    const x = blob.subarray(ED25519_BLOB_LENGTH - 32).toString('base64url');
    try {
      return verify(null, data, { key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }, signature);
    } catch (error) {
      return error as Error;
    }
  } satisfies Verify;
  prototype.verify = wrapper;
}

/** Whether ssh2's keys verify through the wrapper (for the test that watches ssh2's internals). */
export function ed25519VerifyInstalled(): boolean {
  return wrapper !== undefined && keyPrototype()?.verify === wrapper;
}
