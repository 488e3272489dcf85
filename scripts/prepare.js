#!/usr/bin/env node
// `npm ci` runs this: it builds dist/ (server and web front) so `order-ledger` and `npm start` work right after install.
// A production install (`npm ci --omit=dev`) has no compiler; it runs a dist/ built earlier (the
// Docker build stage copies it in), so the build is skipped instead of failing the install.
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  const built = existsSync(path.join(__dirname, '..', 'dist', 'src', 'main.js'));
  process.stderr.write(`prepare: typescript is not installed (production install); ${built ? 'using the existing dist/' : 'no dist/ yet: build it with a full install'}\n`);
  process.exit(0);
}
const root = path.join(__dirname, '..');
const server = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (server.status !== 0) process.exit(server.status ?? 1);
const web = spawnSync(process.execPath, [require.resolve('tsx/cli'), 'web/build.ts'], { cwd: root, stdio: 'inherit' });
process.exit(web.status ?? 1);
