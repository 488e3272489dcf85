import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../..');

/** Children started through spawnTs that have not exited yet. */
const live = new Set<ChildProcess>();

/**
 * Runs a TypeScript file as `node --import tsx <file> [args]`: one process, so the pid the test
 * holds is the one doing the work (the tsx CLI would be a wrapper whose SIGKILL leaves its child
 * running). Every such child is killed when its test file ends (test/support/childCleanup.ts).
 * It reads no .env unless the caller names one in ENV_FILE.
 */
export function spawnTs(file: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  // A developer's .env in the checkout must not reach the process under test.
  const env = { ENV_FILE: 'none', ...(options.env ?? process.env) };
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: REPO_ROOT, ...options, env });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Resolves with the exit signal (or code) once the child has exited; works after the fact too. */
export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** True while a process with this pid exists (a zombie counts until its parent reaps it). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** SIGKILLs the child, waits until it has exited and been reaped, and checks that its pid is gone. */
export async function killAndConfirmGone(child: ChildProcess): Promise<NodeJS.Signals | null> {
  const exited = exitOf(child);
  child.kill('SIGKILL');
  const { signal } = await exited;
  if (child.pid !== undefined && processExists(child.pid)) throw new Error(`process ${child.pid} is still there after SIGKILL`);
  return signal;
}

/** Kills every child spawnTs started that is still running. */
export async function killLiveChildren(): Promise<number> {
  const running = [...live];
  await Promise.all(running.map((child) => killAndConfirmGone(child)));
  return running.length;
}
