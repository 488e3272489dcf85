import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KEY_BYTES, openBytes, sealBytes } from './sealing';

/**
 * Wraps and unwraps data keys. The local implementation uses master keys from the environment; a
 * cloud KMS (AWS KMS Encrypt/Decrypt, GCP KMS, Vault transit) implements the same two calls.
 */
export interface KeyWrapper {
  /** Id of the key new wraps use (stored next to each wrapped key, so rotation knows what to redo). */
  readonly currentKeyId: string;
  wrap(dataKey: Buffer, context: string): Promise<{ wrapped: Buffer; keyId: string }>;
  unwrap(wrapped: Buffer, keyId: string, context: string): Promise<Buffer>;
}

export class MasterKeyError extends Error {
  readonly code = 'PII_MASTER_KEY_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'MasterKeyError';
  }
}

/** A master key's id: a short hash, so a stored wrapped key names its master without revealing it. */
export function masterKeyId(key: Buffer): string {
  return createHash('sha256').update('order-ledger/master-key-id/').update(key).digest('hex').slice(0, 16);
}

/** A 32-byte key as base64 (or 64 hex digits). */
export function parseMasterKey(text: string, name: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES) throw new MasterKeyError(`${name} must be 32 random bytes as base64 or hex (e.g. \`openssl rand -base64 32\`)`);
  return key;
}

export class LocalKeyWrapper implements KeyWrapper {
  private readonly keys: Map<string, Buffer>;
  readonly currentKeyId: string;

  /** `current` wraps; `previous` still unwrap until `privacy rotate-master-key` has rewrapped everything. */
  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    this.currentKeyId = masterKeyId(current);
    this.keys = new Map([[this.currentKeyId, current], ...previous.map((key) => [masterKeyId(key), key] as [string, Buffer])]);
  }

  wrap(dataKey: Buffer, context: string): Promise<{ wrapped: Buffer; keyId: string }> {
    return Promise.resolve({ wrapped: sealBytes(this.keys.get(this.currentKeyId)!, dataKey, context), keyId: this.currentKeyId });
  }

  unwrap(wrapped: Buffer, keyId: string, context: string): Promise<Buffer> {
    const key = this.keys.get(keyId);
    if (!key) {
      return Promise.reject(new MasterKeyError(`a data key is wrapped by master key ${keyId}, which is neither PII_MASTER_KEY nor in PII_PREVIOUS_MASTER_KEYS`));
    }
    try {
      return Promise.resolve(openBytes(key, wrapped, context));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

export interface MasterKeySettings {
  NODE_ENV: 'development' | 'test' | 'production';
  PII_MASTER_KEY?: string | undefined;
  PII_PREVIOUS_MASTER_KEYS?: string | undefined;
  PII_MASTER_KEY_FILE: string;
}

/**
 * The master key ring from the configuration. Production requires PII_MASTER_KEY (the config
 * refuses to start without it). Development and tests without it use a key generated once into
 * PII_MASTER_KEY_FILE (mode 0600, outside the database, so a database copy holds no key) and warn.
 */
export function localKeyWrapper(settings: MasterKeySettings, warn: (message: string) => void): LocalKeyWrapper {
  const previous = (settings.PII_PREVIOUS_MASTER_KEYS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((text) => parseMasterKey(text, 'PII_PREVIOUS_MASTER_KEYS'));
  if (settings.PII_MASTER_KEY) return new LocalKeyWrapper(parseMasterKey(settings.PII_MASTER_KEY, 'PII_MASTER_KEY'), previous);
  if (settings.NODE_ENV === 'production') throw new MasterKeyError('PII_MASTER_KEY is required when NODE_ENV=production');
  const file = path.resolve(settings.PII_MASTER_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    try {
      // 'wx': two processes starting together keep the first key written.
      writeFileSync(file, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
    }
    warn(`PII_MASTER_KEY is not set: generated a development master key in ${file}; set PII_MASTER_KEY in production`);
  } else {
    warn(`PII_MASTER_KEY is not set: using the development master key in ${file}`);
  }
  return new LocalKeyWrapper(parseMasterKey(readFileSync(file, 'utf8'), `the key in ${file}`), previous);
}
