import { spawn } from 'node:child_process';
import path from 'node:path';
import { processExists, REPO_ROOT } from '../support/childProcesses';

const DETECTOR = path.join(REPO_ROOT, '.ci/survivors.pl');

interface DetectorRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `.ci/survivors.pl --grace <s> -- sh -c <script>` and collects its output. */
function underDetector(script: string, graceSeconds: number): Promise<DetectorRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('perl', [DETECTOR, '--grace', String(graceSeconds), '--', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const pidsIn = (stdout: string): number[] =>
  stdout
    .split('\n')
    .filter((line) => /^\d+$/.test(line))
    .map(Number);

describe('.ci/survivors.pl', () => {
  it('when the command leaves processes behind (new session, wiped environment, double fork, other folder), then each is listed and killed and the status is 3', async () => {
    // Each sleeper prints its pid; every one escapes its parent in a different way.
    const script = [
      'setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!',
      `env -i /bin/sh -c 'sleep 301 </dev/null >/dev/null 2>&1 & echo $!'`,
      '(cd / && sleep 302 </dev/null >/dev/null 2>&1 & echo $!)',
      'exit 0',
    ].join('\n');
    const run = await underDetector(script, 0.2);
    const pids = pidsIn(run.stdout);
    try {
      expect(pids).toHaveLength(3);
      expect(run.status).toBe(3);
      expect(run.stderr).toContain('3 process(es) outlived');
      for (const [pid, seconds] of pids.map((pid, i) => [pid, 300 + i] as const)) {
        expect(run.stderr).toMatch(new RegExp(`pid ${pid} .*sleep ${seconds}`));
      }
      expect(run.stderr).toMatch(/cwd \/ +sleep 302/);
      expect(pids.filter(processExists)).toEqual([]);
    } finally {
      for (const pid of pids.filter(processExists)) process.kill(pid, 'SIGKILL');
    }
  });

  it('when the command leaves nothing behind, then its own status comes back and nothing is reported', async () => {
    const clean = await underDetector('sleep 0.1 & wait; exit 0', 0.2);
    const failing = await underDetector('exit 5', 0.2);
    expect([clean.status, clean.stderr]).toEqual([0, '']);
    expect([failing.status, failing.stderr]).toEqual([5, '']);
  });

  it('when a leftover ends by itself within the grace period, then it is not a survivor', async () => {
    const run = await underDetector('sleep 0.3 </dev/null >/dev/null 2>&1 & exit 0', 5);
    expect([run.status, run.stderr]).toEqual([0, '']);
  });

  it('when the command fails and leaves a process, then the failure status wins and the process is still killed', async () => {
    const run = await underDetector('setsid sleep 303 </dev/null >/dev/null 2>&1 & echo $!; exit 7', 0.2);
    const pids = pidsIn(run.stdout);
    try {
      expect(pids).toHaveLength(1);
      expect(run.status).toBe(7);
      expect(run.stderr).toContain('1 process(es) outlived');
      expect(pids.filter(processExists)).toEqual([]);
    } finally {
      for (const pid of pids.filter(processExists)) process.kill(pid, 'SIGKILL');
    }
  });
});
