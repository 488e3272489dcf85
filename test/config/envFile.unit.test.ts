import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, configSchema, loadConfig } from '../../src/infra/config/config';
import { environmentWithEnvFile } from '../../src/infra/config/envFile';

const EXAMPLE = path.join(__dirname, '../../.env.example');

/** `#KEY=value` and `KEY=value` lines of .env.example, in order. */
function exampleEntries(): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of readFileSync(EXAMPLE, 'utf8').split('\n')) {
    const match = /^#?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) entries.set(match[1]!, match[2]!);
  }
  return entries;
}

describe('.env.example', () => {
  const schemaKeys = Object.keys(configSchema.shape).sort();

  it('when compared with the config schema, then it lists exactly the variables the schema reads', () => {
    expect([...exampleEntries().keys()].sort()).toEqual(schemaKeys);
  });

  it('when a variable shows a value, then that value is the default the schema applies', () => {
    const defaults = loadConfig({}) as unknown as Record<string, unknown>;
    for (const [key, shown] of exampleEntries()) {
      if (shown === '') {
        expect({ key, value: defaults[key] ?? '' }).toEqual({ key, value: '' });
      } else {
        const parsed = loadConfig({ [key]: shown }) as unknown as Record<string, unknown>;
        expect({ key, value: parsed[key] }).toEqual({ key, value: defaults[key] });
      }
    }
  });

  it('when every description is read, then each variable line has a one-line comment above it', () => {
    const lines = readFileSync(EXAMPLE, 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (/^#?[A-Z][A-Z0-9_]*=/.test(line)) expect({ line, above: lines[index - 1] }).toEqual({ line, above: expect.stringMatching(/^# \S/) });
    });
  });
});

describe('environmentWithEnvFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ol-env-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('when ENV_FILE names a file, then its variables are read and the environment wins over them', () => {
    const file = path.join(dir, 'app.env');
    writeFileSync(file, '# a comment\nPORT=4100\nLOG_LEVEL="warn"\nMAIL_FROM=shop <shop@example.com>\n');
    const env = environmentWithEnvFile({ ENV_FILE: file, LOG_LEVEL: 'error' });
    const config = loadConfig(env);
    expect(config.PORT).toBe(4100);
    expect(config.LOG_LEVEL).toBe('error');
    expect(config.MAIL_FROM).toBe('shop <shop@example.com>');
  });

  it('when ENV_FILE is none, then no file is read', () => {
    const env = environmentWithEnvFile({ ENV_FILE: 'none', PORT: '4200' });
    expect(env).toEqual({ ENV_FILE: 'none', PORT: '4200' });
  });

  it('when ENV_FILE names a file that does not exist, then start-up stops naming the variable', () => {
    expect(() => environmentWithEnvFile({ ENV_FILE: path.join(dir, 'missing.env') })).toThrow(ConfigError);
    expect(() => environmentWithEnvFile({ ENV_FILE: path.join(dir, 'missing.env') })).toThrow(/ENV_FILE: .*missing\.env does not exist/);
  });

  it('when the file sets a bad value, then loadConfig names that variable', () => {
    const file = path.join(dir, 'bad.env');
    writeFileSync(file, 'PORT=eighty\n');
    expect(() => loadConfig(environmentWithEnvFile({ ENV_FILE: file }))).toThrow(/PORT:/);
  });
});
