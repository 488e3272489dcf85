import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './childServer';

export interface Entry {
  /** Arguments to node that run the entry point (after any node flags). */
  args: string[];
  /** How it runs, for the JSON. */
  runtime: string;
}

export interface Build {
  app: Entry;
  /** The app taking tokens at their word: the reference of the per-request account check. */
  claimsOnlyApp: Entry;
  cli: Entry;
  constantServer: Entry;
  /** Express + pg doing the least an order write or an order listing needs: the issue-19 ceilings. */
  minimalServer: Entry;
}

// Under bench/build/<pid>/dist/: ignored by git (the dist/ pattern) and below the repo's
// node_modules, so the compiled files resolve packages as dist/ does.
const BUILD_ROOT = path.join(REPO_ROOT, 'bench', 'build');
let building: Promise<Build> | undefined;

function fromSource(): Build {
  const tsx = (file: string): Entry => ({ args: ['--import', 'tsx', path.join(REPO_ROOT, file)], runtime: `node --import tsx ${file}` });
  return {
    app: tsx('src/main.ts'),
    claimsOnlyApp: tsx('bench/claimsOnlyServer.ts'),
    cli: tsx('src/cli/main.ts'),
    constantServer: tsx('bench/constantServer.ts'),
    minimalServer: tsx('bench/minimalServer.ts'),
  };
}

/**
 * The app, the CLI and the constant server compiled once per run with the project's own build
 * (tsc, tsconfig.build.json), so the child processes run plain `node` on JavaScript as
 * `npm start` and `order-ledger` do: no loader thread, no transpiling at start (the tsx loader
 * alone adds about 30 MB of RSS). Falls back to tsx on the sources if the build produces nothing.
 */
export function build(): Promise<Build> {
  building ??= (async () => {
    sweepAbandonedBuilds();
    // Removed however the run ends (exit, interrupt); a killed run's folder goes at the next sweep.
    process.once('exit', removeBuild);
    const outDir = path.join(BUILD_ROOT, String(process.pid), 'dist');
    const config = path.join(outDir, 'tsconfig.bench.json');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(
      config,
      JSON.stringify({
        extends: path.join(REPO_ROOT, 'tsconfig.build.json'),
        compilerOptions: { outDir, rootDir: REPO_ROOT, sourceMap: false, incremental: false, noCheck: true },
        include: [
          path.join(REPO_ROOT, 'src'),
          path.join(REPO_ROOT, 'bench', 'constantServer.ts'),
          path.join(REPO_ROOT, 'bench', 'claimsOnlyServer.ts'),
          path.join(REPO_ROOT, 'bench', 'minimalServer.ts'),
        ],
      }),
    );
    const started = Date.now();
    const failure = await new Promise<string | undefined>((resolve) => {
      // tsc still emits when another engineer's work in progress has type errors; only missing output counts.
      execFile(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', config], { cwd: REPO_ROOT, timeout: 120_000, maxBuffer: 1 << 22 }, (error, stdout) =>
        resolve(error ? `${error.message}\n${stdout.slice(0, 2000)}` : undefined),
      );
    });
    const js = (file: string): string => path.join(outDir, file);
    const wanted = ['src/main.js', 'src/cli/main.js', 'bench/constantServer.js', 'bench/claimsOnlyServer.js', 'bench/minimalServer.js'];
    if (!wanted.every((f) => fs.existsSync(js(f)))) {
      process.stderr.write(`[bench] build failed, running the sources with tsx instead:\n${failure ?? ''}\n`);
      return fromSource();
    }
    if (failure) process.stderr.write(`[bench] tsc reported errors but emitted the files; using them\n`);
    process.stderr.write(`[bench] compiled the app for child processes in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    const node = (file: string): Entry => ({ args: [js(file)], runtime: `node (tsc build of ${file.replace(/\.js$/, '.ts')})` });
    return {
      app: node('src/main.js'),
      claimsOnlyApp: node('bench/claimsOnlyServer.js'),
      cli: node('src/cli/main.js'),
      constantServer: node('bench/constantServer.js'),
      minimalServer: node('bench/minimalServer.js'),
    };
  })();
  return building;
}

/** Builds left by runs whose process is gone (killed before their exit hook ran). */
function sweepAbandonedBuilds(): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(BUILD_ROOT);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (/^\d+$/.test(entry) && !fs.existsSync(`/proc/${entry}`)) fs.rmSync(path.join(BUILD_ROOT, entry), { recursive: true, force: true });
  }
}

/** Removes this run's build. */
export function removeBuild(): void {
  building = undefined;
  fs.rmSync(path.join(BUILD_ROOT, String(process.pid)), { recursive: true, force: true });
  try {
    fs.rmdirSync(BUILD_ROOT); // only when no other run's build is in there
  } catch {
    // not empty or already gone
  }
}
