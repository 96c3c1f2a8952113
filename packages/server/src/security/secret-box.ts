/**
 * Encryption at rest for provider keys: AES-256-GCM with a 32-byte key from `UNDERSTUDY_SECRET`
 * (any string, stretched with SHA-256) or, if unset, a random key generated once into
 * `<data>/secret.key` (mode 0600). Losing that file means re-entering provider keys, unless its
 * content is given as UNDERSTUDY_SECRET (see olderSecretKeys).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A sealed value no key of this instance opens: it was sealed with another secret (another
 * UNDERSTUDY_SECRET, or another instance's data/secret.key), or altered.
 */
export class SealedWithAnotherSecret extends Error {
  constructor() {
    super('sealed with another secret than this instance has');
    this.name = 'SealedWithAnotherSecret';
  }
}

/** Seals and opens secrets. */
export interface SecretBox {
  seal(plain: string): string;
  /** The plain value; throws SealedWithAnotherSecret when no key of this instance opens it. */
  open(sealed: string): string;
  /** Whether `sealed` opens with the key `seal` uses (false: an older key of this instance, or none). */
  isCurrent(sealed: string): boolean;
}

/** Where a data folder keeps its generated key. */
export function secretKeyFile(dataDir: string): string {
  return join(dataDir, 'secret.key');
}

/** The encryption key: from the secret string, or from (or into) the data folder. */
export function loadSecretKey(secret: string | undefined, dataDir: string): Buffer {
  if (secret && secret.length > 0) return createHash('sha256').update(secret).digest();
  const file = secretKeyFile(dataDir);
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
    return key;
  }
  // Private like the key itself (SQLite's files live here too); a folder that exists is left as it is.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

/**
 * Keys that may have sealed what is stored before UNDERSTUDY_SECRET was set: the secret read as a
 * data/secret.key's content (base64 of 32 bytes: the first instance's file given as the secret),
 * and this instance's own data/secret.key. They only open; start seals again with the current key
 * what they open, so that every instance with the same UNDERSTUDY_SECRET reads it.
 */
export function olderSecretKeys(secret: string | undefined, dataDir: string): Buffer[] {
  if (!secret) return [];
  const keys: Buffer[] = [];
  const raw = Buffer.from(secret, 'base64');
  if (raw.length === 32 && raw.toString('base64') === secret) keys.push(raw);
  const file = secretKeyFile(dataDir);
  if (existsSync(file)) {
    const own = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (own.length === 32) keys.push(own);
  }
  return keys;
}

/** Opens with one key; undefined when the key is not the one that sealed it (GCM's tag says so). */
function openWith(key: Buffer, iv: string, tag: string, ct: string): string | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * A SecretBox over a 32-byte key (and older keys it only opens with). Sealed form:
 * `v1.<iv>.<tag>.<ciphertext>` in base64url.
 */
export function createSecretBox(key: Buffer, older: Buffer[] = []): SecretBox {
  const parts = (sealed: string) => {
    const [v, iv, tag, ct] = sealed.split('.');
    if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('unreadable sealed secret');
    return [iv, tag, ct] as const;
  };
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return ['v1', iv, cipher.getAuthTag(), ct]
        .map((x) => (typeof x === 'string' ? x : x.toString('base64url')))
        .join('.');
    },
    open(sealed) {
      const p = parts(sealed);
      for (const k of [key, ...older]) {
        const plain = openWith(k, ...p);
        if (plain !== undefined) return plain;
      }
      throw new SealedWithAnotherSecret();
    },
    isCurrent(sealed) {
      return openWith(key, ...parts(sealed)) !== undefined;
    },
  };
}
