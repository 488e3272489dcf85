import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigError } from './config';

const DEFAULT_ENV_FILE = '.env';

/**
 * The process environment over the variables of a dotenv file: `ENV_FILE` names it (default
 * `.env` in the working directory, read when present; `none` reads nothing). A variable set in the
 * environment wins over the file, so a deployment can override one line without editing it.
 */
export function environmentWithEnvFile(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const named = env.ENV_FILE;
  const path = named === undefined || named === '' ? DEFAULT_ENV_FILE : named;
  if (path === 'none') return env;
  if (!existsSync(path)) {
    if (path === DEFAULT_ENV_FILE) return env;
    throw new ConfigError(`Invalid configuration:\n  ENV_FILE: ${path} does not exist`);
  }
  let fromFile: NodeJS.Dict<string>;
  try {
    fromFile = parseEnv(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`Invalid configuration:\n  ENV_FILE: cannot read ${path}: ${(error as Error).message}`);
  }
  return { ...fromFile, ...env };
}
