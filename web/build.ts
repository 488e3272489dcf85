import { build, stop } from 'esbuild';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

/** The budget the issue sets for the front's JavaScript, gzipped. */
export const JS_GZIP_BUDGET_BYTES = 80 * 1024;

const webDir = __dirname;
export const defaultOutDir = path.join(webDir, '..', 'dist', 'web');

export interface WebBuild {
  outDir: string;
  /** URL paths of the bundle's script and stylesheet. */
  script: string;
  stylesheet: string;
  jsBytes: number;
  jsGzipBytes: number;
}

const escapeAttribute = (value: string): string => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/**
 * Bundles web/src into dist/web: content-hashed files under /assets and an index.html that loads
 * them (no inline script, so the page runs under a strict CSP). Fails when the JavaScript is over budget.
 */
export async function buildWebFront(outDir = defaultOutDir): Promise<WebBuild> {
  await rm(outDir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { app: path.join(webDir, 'src', 'main.tsx') },
    bundle: true,
    minify: true,
    sourcemap: 'linked',
    format: 'esm',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: outDir,
    entryNames: 'assets/[name]-[hash]',
    assetNames: 'assets/[name]-[hash]',
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
    absWorkingDir: path.join(webDir, '..'),
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => path.resolve(path.join(webDir, '..'), file));
  const find = (extension: string): string => {
    const file = outputs.find((candidate) => candidate.endsWith(extension));
    if (!file) throw new Error(`the web build produced no ${extension} file`);
    return file;
  };
  const scriptFile = find('.js');
  const styleFile = find('.css');
  const urlOf = (file: string): string => `/${path.relative(outDir, file).split(path.sep).join('/')}`;
  const script = urlOf(scriptFile);
  const stylesheet = urlOf(styleFile);

  const template = await readFile(path.join(webDir, 'index.html'), 'utf8');
  const html = template
    .replace('<!-- stylesheet -->', `<link rel="stylesheet" href="${escapeAttribute(stylesheet)}">`)
    .replace('<!-- script -->', `<script type="module" src="${escapeAttribute(script)}"></script>`);
  await writeFile(path.join(outDir, 'index.html'), html);
  await copyFile(path.join(webDir, 'favicon.svg'), path.join(outDir, 'favicon.svg'));

  const js = await readFile(scriptFile);
  const jsGzipBytes = gzipSync(js, { level: 9 }).length;
  if (jsGzipBytes > JS_GZIP_BUDGET_BYTES) {
    throw new Error(`the web front's JavaScript is ${jsGzipBytes} bytes gzipped, over the budget of ${JS_GZIP_BUDGET_BYTES}`);
  }
  return { outDir, script, stylesheet, jsBytes: js.length, jsGzipBytes };
}

const kB = (bytes: number): string => `${(bytes / 1024).toFixed(1)} kB`;

if (require.main === module) {
  buildWebFront()
    .then((built) => {
      process.stdout.write(`web front: ${built.script} ${kB(built.jsBytes)} (${kB(built.jsGzipBytes)} gzipped), ${built.stylesheet}\n`);
    })
    .catch((error: unknown) => {
      process.stderr.write(`web build failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    })
    .finally(() => stop());
}
