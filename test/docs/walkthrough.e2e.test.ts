import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { walkthroughSteps, type WalkthroughStep } from '../../scripts/docs/walkthrough';
import { startTestApp, type TestApp } from '../support/apiHarness';
import { REPO_ROOT } from '../support/childProcesses';

const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const STEP_TIMEOUT_MS = 60_000;

/** One bash, fed the README's blocks one at a time as a reader pastes them into one shell. */
class PastingShell {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  private waiters: Array<() => void> = [];

  constructor(env: NodeJS.ProcessEnv) {
    // Its own process group, so whatever the blocks start can be found and killed as a whole.
    this.child = spawn('bash', [], { cwd: REPO_ROOT, env, detached: true });
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => this.append('stdout', chunk));
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => this.append('stderr', chunk));
  }

  private append(stream: 'stdout' | 'stderr', chunk: string): void {
    this[stream] += chunk;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Pastes a step and resolves with what it printed once bash has run it (and its `until` text has shown). */
  async paste(index: number, step: WalkthroughStep): Promise<{ output: string; status: number }> {
    const from = this.stdout.length;
    const done = new RegExp(`__step_${index}_done__ (\\d+)\n`);
    this.child.stdin.write(`${step.code}\necho "__step_${index}_done__ $?"\n`);
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const output = this.stdout.slice(from);
      const finished = done.exec(output);
      if (finished && (!step.until || output.includes(step.until))) return { output: output.replace(done, ''), status: Number(finished[1]) };
      if (this.child.exitCode !== null) throw new Error(`bash exited during step ${index + 1}:\n${output}\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`step ${index + 1} did not finish within ${STEP_TIMEOUT_MS} ms:\n${output}\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  groupAlive(): boolean {
    try {
      process.kill(-this.child.pid!, 0);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw error;
    }
  }

  async exit(): Promise<void> {
    const closed = new Promise((resolve) => this.child.once('close', resolve));
    if (this.child.exitCode === null) this.child.stdin.end('exit\n');
    const timer = setTimeout(() => this.kill(), 10_000);
    await closed;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.groupAlive()) process.kill(-this.child.pid!, 'SIGKILL');
  }
}

describe('the README walkthrough, pasted into a shell against a freshly started server', () => {
  let app: TestApp;
  let shell: PastingShell;
  const outputs: string[] = [];
  const steps = walkthroughSteps(README);

  beforeAll(async () => {
    // `npx order-ledger` runs the compiled CLI (dist/), as after `npm ci`: compile the current sources first.
    const build = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', 'tsconfig.build.json'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 150_000 });
    if (build.status !== 0) throw new Error(`tsc -b failed: ${build.stdout}${build.stderr}`);
    // The default rate limits, so the walkthrough is proven to fit in them.
    app = await startTestApp({ ROLES: 'api,projector,notifier', RATE_LIMIT_MAX: '100', LOGIN_RATE_LIMIT_MAX: '10', RATE_LIMIT_WINDOW_MS: '900000' });
    shell = new PastingShell({
      ...process.env,
      ENV_FILE: 'none',
      API: app.url,
      DATABASE_URL: app.db.url,
      REDIS_KEY_PREFIX: app.runtime.config.REDIS_KEY_PREFIX,
      BCRYPT_ROUNDS: '4',
      LOG_LEVEL: 'warn',
    });
    for (const [index, step] of steps.entries()) {
      const { output, status } = await shell.paste(index, step);
      outputs.push(output);
      if (status !== 0) throw new Error(`step ${index + 1} exited ${status}:\n${step.code}\n${output}\n${shell.stderr}`);
    }
    await shell.exit();
  }, 300_000);

  afterAll(async () => {
    shell?.kill();
    await app?.stop();
  });

  it('when the README is read, then the walkthrough has its eight steps, one of them a background watcher', () => {
    expect(steps).toHaveLength(8);
    expect(steps.filter((step) => step.until)).toEqual([expect.objectContaining({ until: 'watching order' })]);
    expect(steps.map((step) => step.code).join('\n')).not.toMatch(/localhost:3000(?!\})/);
  });

  it('when every step has run, then none of them wrote to stderr and the shell and everything it started are gone', () => {
    // npm's own notices (an available update, say) are not the walkthrough's.
    expect(shell.stderr.split('\n').filter((line) => line !== '' && !/^npm (notice|warn) /.test(line))).toEqual([]);
    expect(shell.child.exitCode).toBe(0);
    // What is left, named, if anything is: one full-suite run found the group alive right after the shell's exit.
    const alive = shell.groupAlive();
    // -g: its session, which bash (spawned detached) leads, as it leads the group.
    const left = alive ? spawnSync('ps', ['-o', 'pid,ppid,pgid,stat,etime,args', '-g', String(shell.child.pid)], { encoding: 'utf8' }).stdout : '';
    expect({ alive, left }).toEqual({ alive: false, left: '' });
  });

  it('when the demo data is made and the customer browses, then the catalog shows the demo products in minor units', () => {
    expect(outputs[0]).toContain('Created admin admin@shop.example and 8 product(s).');
    expect(outputs[2]).toMatch(/^token: eyJ/m);
    expect(outputs[3]).toMatch(/^ESP-BEANS-1KG\s+2490 EUR\s+Espresso beans, 1 kg$/m);
    expect(outputs[3]).toMatch(/^MATCHA-30G\s+3200 JPY/m);
    expect(outputs[3]).toMatch(/^beans: [0-9a-f-]{36}, moka pot: [0-9a-f-]{36}$/m);
  });

  it('when the order is placed, paid by hand and shipped, then the read model, the socket and the history show every step', async () => {
    const placed = /^order ([0-9a-f-]{36}): PENDING, 8930 EUR \(MANUAL\)$/m.exec(outputs[4]!);
    expect(placed).not.toBeNull();
    const orderId = placed![1]!;
    expect(outputs[5]).toContain(`watching order ${orderId}`);
    const shipping = outputs.slice(5).join('');
    expect(shipping).toContain('PENDING → PROCESSING is not allowed; the order must be PAID first');
    for (const status of ['PAID', 'PROCESSING', 'SHIPPED', 'DELIVERED']) expect(shipping).toMatch(new RegExp(`^${status}$`, 'm'));
    for (const push of ['PENDING → PAID', 'PAID → PROCESSING', 'PROCESSING → SHIPPED', 'SHIPPED → DELIVERED']) expect(shipping).toContain(`push: ${push}\n`);
    expect(outputs[7]!.trim().split('\n').map((line) => line.split(/\s+/).slice(1).join(' '))).toEqual([
      'OrderPlaced - → PENDING by user',
      'PaymentSucceeded PENDING → PAID by admin',
      'OrderStatusChanged PAID → PROCESSING by admin',
      'OrderStatusChanged PROCESSING → SHIPPED by admin',
      'OrderStatusChanged SHIPPED → DELIVERED by admin',
    ]);
    const row = (await app.runtime.deps.knex('orders').where('id', orderId).first('status', 'total_amount', 'currency')) as { status: string; total_amount: string | number; currency: string };
    expect({ ...row, total_amount: Number(row.total_amount) }).toEqual({ status: 'DELIVERED', total_amount: 8930, currency: 'EUR' });
  });
});
