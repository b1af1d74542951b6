/**
 * Rough strength checks for secrets a user hands Glassdome: they catch the keys people type
 * (`aaaa…`, `changeme-changeme…`, a repeated pattern) without pretending to measure real entropy.
 */

/** Shannon entropy of the text's characters, in bits per character. */
export function bitsPerCharacter(text: string): number {
  if (text.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** Whether the text is one short piece repeated (`abcabcabc…`). */
function isRepetition(text: string): boolean {
  for (let size = 1; size <= text.length / 2; size++) {
    if (text.length % size === 0 && text.slice(0, size).repeat(text.length / size) === text) return true;
  }
  return false;
}

/** Why a user-given API key is too weak to be an admin key, or undefined when it will do. */
export function weakApiKeyReason(key: string): string | undefined {
  if (isRepetition(key)) return 'is a repeated pattern';
  const distinct = new Set(key).size;
  if (distinct < 6) return `uses only ${distinct} distinct characters`;
  const bits = bitsPerCharacter(key) * key.length;
  if (bits < 56) return `is too predictable (about ${Math.floor(bits)} bits; use at least 24 random characters)`;
  return undefined;
}

/** The 32 bytes of GLASSDOME_SECRET_KEY, as base64 or 64 hex digits; undefined when it is neither. */
export function secretKeyBytes(text: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length === 32 ? bytes : undefined;
}

/**
 * Why GLASSDOME_SECRET_KEY is unusable, or undefined. 32 random bytes almost always hold 25 or more
 * distinct values (fewer than 16 happens with odds far below one in a billion); a typed or patterned
 * key holds a handful.
 */
export function weakSecretKeyReason(text: string): string | undefined {
  const bytes = secretKeyBytes(text);
  if (!bytes) return 'must be 32 bytes as base64 or 64 hex digits (e.g. `openssl rand -base64 32`)';
  const distinct = new Set(bytes).size;
  if (distinct < 16)
    return `is not random (only ${distinct} distinct byte values); generate one with \`openssl rand -base64 32\``;
  return undefined;
}
