import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/infra/config/config';
import { LocalKeyWrapper, localKeyWrapper, masterKeyId } from '../../src/infra/privacy/masterKey';
import { InMemoryDataKeyStore } from '../../src/infra/privacy/memoryDataKeyStore';
import { open, seal } from '../../src/infra/privacy/sealing';
import { openOrderPersonalData, sealOrderPersonalData } from '../../src/commands/privacy/personalData';
import { shippingAddressSchema } from '../../src/commands/privacy/shippingAddress';

const alice = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const bob = '0b5d2f1e-8c43-4e0a-9d6b-3f1a2c4e5d60';
const order1 = '5f3c0d8a-2b1e-4c7d-9a6f-0e8d7c6b5a49';
const order2 = '2f0c3a9e-1b7d-4c55-8e21-6a4b9d0c7e13';
const data = { shippingAddress: { name: 'Ada Lovelace', line1: '12 St James Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' } };

describe('sealing personal data', () => {
  it('when sealed and opened with the same key and context, then the value comes back, and two seals of it differ', () => {
    const key = randomBytes(32);
    const a = seal(key, 'Ada', 'ctx');
    expect(open(key, a, 'ctx')).toBe('Ada');
    expect(seal(key, 'Ada', 'ctx')).not.toBe(a);
    expect(a).not.toContain('Ada');
  });

  it("when a sealed value is copied into another user's or another order's event, then it does not open", async () => {
    const keys = new InMemoryDataKeyStore();
    const sealed = await sealOrderPersonalData(keys, alice, order1, data);
    const key = await keys.keyFor(alice);
    expect(openOrderPersonalData(key, alice, order1, sealed)).toEqual(data);
    expect(() => openOrderPersonalData(key, alice, order2, sealed)).toThrow(/cannot be opened/);
    expect(() => openOrderPersonalData(key, bob, order1, sealed)).toThrow(/cannot be opened/);
  });

  it('when a sealed value is altered by one character, then it does not open', async () => {
    const keys = new InMemoryDataKeyStore();
    const sealed = await sealOrderPersonalData(keys, alice, order1, data);
    const i = sealed.length - 30;
    const altered = sealed.slice(0, i) + (sealed[i] === 'A' ? 'B' : 'A') + sealed.slice(i + 1);
    const key = await keys.keyFor(alice);
    expect(() => openOrderPersonalData(key, alice, order1, altered)).toThrow(/cannot be opened/);
  });

  it('when the key is destroyed, then nothing can be sealed or opened for that customer again', async () => {
    const keys = new InMemoryDataKeyStore();
    await sealOrderPersonalData(keys, alice, order1, data);
    await keys.destroy(alice);
    expect(await keys.existingKeys([alice])).toEqual(new Map());
    await expect(keys.keyFor(alice)).rejects.toMatchObject({ code: 'CUSTOMER_DATA_ERASED' });
  });
});

describe('master keys', () => {
  it('when a data key is wrapped under an old master key, then a ring holding it as previous unwraps it and wraps with the new one', async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const dataKey = randomBytes(32);
    const wrapped = await new LocalKeyWrapper(oldKey).wrap(dataKey, 'user:a');
    const ring = new LocalKeyWrapper(newKey, [oldKey]);
    expect(await ring.unwrap(wrapped.wrapped, wrapped.keyId, 'user:a')).toEqual(dataKey);
    expect(ring.currentKeyId).toBe(masterKeyId(newKey));
    await expect(ring.unwrap(wrapped.wrapped, wrapped.keyId, 'user:b')).rejects.toThrow();
    await expect(new LocalKeyWrapper(newKey).unwrap(wrapped.wrapped, wrapped.keyId, 'user:a')).rejects.toThrow(/PII_PREVIOUS_MASTER_KEYS/);
  });

  it('when NODE_ENV=production has no PII_MASTER_KEY, then the configuration is refused naming it', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) })).toThrow(/PII_MASTER_KEY: PII_MASTER_KEY is required when NODE_ENV=production/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), PII_MASTER_KEY: 'short' })).toThrow(/PII_MASTER_KEY must be 32 random bytes/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), PII_MASTER_KEY: randomBytes(32).toString('base64') }).PII_MASTER_KEY).toBeDefined();
  });

  it('when development has no PII_MASTER_KEY, then a key is generated once into the key file with mode 0600 and a warning', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ol-key-'));
    const warnings: string[] = [];
    const settings = { NODE_ENV: 'development' as const, PII_MASTER_KEY_FILE: `${dir}/k/pii-master-key` };
    const first = localKeyWrapper(settings, (m) => warnings.push(m));
    const second = localKeyWrapper(settings, (m) => warnings.push(m));
    expect(second.currentKeyId).toBe(first.currentKeyId);
    expect(statSync(settings.PII_MASTER_KEY_FILE).mode & 0o777).toBe(0o600);
    expect(warnings[0]).toMatch(/generated a development master key/);
    expect(() => localKeyWrapper({ NODE_ENV: 'production', PII_MASTER_KEY_FILE: settings.PII_MASTER_KEY_FILE }, () => undefined)).toThrow(/PII_MASTER_KEY is required/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('shipping address', () => {
  it('when the country is not an ISO 3166-1 alpha-2 code, then it is refused; lower case is accepted and upper-cased', () => {
    expect(shippingAddressSchema.safeParse({ ...data.shippingAddress, country: 'XX' }).success).toBe(false);
    expect(shippingAddressSchema.parse({ ...data.shippingAddress, country: 'de' }).country).toBe('DE');
    expect(shippingAddressSchema.safeParse({ ...data.shippingAddress, name: 'a\nb' }).success).toBe(false);
    expect(shippingAddressSchema.safeParse({ ...data.shippingAddress, phone: 'call me' }).success).toBe(false);
  });
});
