import express, { type Express } from 'express';
import helmet from 'helmet';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** The browser front built by `npm run build` (web/build.ts) into dist/web. */
export interface WebFront {
  dir: string;
  /** URL paths of the files the build produced (and `/` for its index): exempt from the global rate limit. */
  paths: ReadonlySet<string>;
}

export const WEB_ASSETS_PREFIX = '/assets/';

function packageRoot(from: string): string {
  // Same answer from src/infra/http (tsx, jest) and dist/src/infra/http (node): the folder with package.json.
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return from;
  }
}

export function defaultWebDir(): string {
  return path.join(packageRoot(__dirname), 'dist', 'web');
}

function listFiles(dir: string, prefix = '/'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

/** The built front, or undefined when it was not built (the API still serves; `/` answers the JSON 404). */
export function locateWebFront(dir = defaultWebDir()): WebFront | undefined {
  if (!existsSync(path.join(dir, 'index.html'))) return undefined;
  return { dir, paths: new Set(['/', ...listFiles(dir)]) };
}

/**
 * The bundle loads one script and one stylesheet from this origin and talks to the API and Socket.io
 * on this origin, so nothing inline and nothing foreign is allowed. No upgrade-insecure-requests:
 * every URL is relative, and the directive breaks a plain-HTTP deployment (a LAN host, docker).
 */
const frontCsp = helmet.contentSecurityPolicy({
  useDefaults: false,
  directives: {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    'style-src': ["'self'"],
    'img-src': ["'self'", 'data:'],
    'connect-src': ["'self'"],
    'font-src': ["'self'"],
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
  },
});

/** Serves the front under `/`: file names under /assets carry a content hash, so they are cached for good. */
export function serveWebFront(app: Express, front: WebFront): void {
  const files = express.static(front.dir, {
    index: 'index.html',
    redirect: false,
    dotfiles: 'ignore',
    setHeaders: (res, filePath) => {
      const immutable = filePath.startsWith(path.join(front.dir, WEB_ASSETS_PREFIX.slice(1)));
      res.setHeader('Cache-Control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  app.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !front.paths.has(req.path)) {
      next();
      return;
    }
    frontCsp(req, res, () => {
      files(req, res, next);
    });
  });
}
