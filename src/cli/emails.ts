import { InvalidArgumentError, type Command } from 'commander';
import { EmailJobAdmin, EmailJobNotFailedError, EmailJobNotFoundError, OPEN_STATES, type EmailJobView, type ListedState } from '../infra/queue/emailJobAdmin';
import { withTimeout } from '../infra/withTimeout';
import type { CliContext } from './context';
import { CliFailure, printLine, toJson } from './output';

type Run = <A extends unknown[]>(action: (context: CliContext, ...args: A) => Promise<number>) => (...args: A) => Promise<void>;

// Every Redis step of a command is bounded: an unreachable Redis ends the command with one line.
const REDIS_BOUND_MS = 15_000;

function limit(max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) throw new InvalidArgumentError(`expected an integer from 1 to ${max}`);
    return Number(value);
  };
}

const oneLine = (text: string, width: number): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
};

/** A fixed-width table: ids in full (they are what `emails retry` takes), the error cut to one short line. */
function table(jobs: readonly EmailJobView[]): string[] {
  const header = ['JOB ID (EVENT ID)', 'ORDER ID', 'KIND', 'STATE', 'ATTEMPTS', 'CREATED', 'FINISHED', 'LAST ERROR'];
  const rows = jobs.map((job) => [
    job.jobId,
    job.orderId ?? '-',
    job.kind,
    job.state,
    `${job.attemptsMade}/${job.maxAttempts}`,
    job.createdAt,
    job.finishedAt ?? '-',
    job.lastError ? oneLine(job.lastError, 60) : '-',
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows].map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

async function withAdmin<T>(context: CliContext, use: (admin: EmailJobAdmin) => Promise<T>): Promise<T> {
  const admin = new EmailJobAdmin(context.config);
  try {
    return await withTimeout(use(admin), REDIS_BOUND_MS, 'Redis');
  } finally {
    await withTimeout(admin.close(), 2000, 'closing Redis').catch(() => undefined);
  }
}

/** `order-ledger emails list|retry`: the BullMQ `emails` queue, for failed sends an operator has to see and act on. */
export function addEmailCommands(program: Command, run: Run): void {
  const emails = program.command('emails').description('email jobs on the BullMQ queue: list them, retry the ones that failed');
  emails
    .command('list')
    .description('list email jobs still to do (failed, active, waiting, delayed), failed first, newest first; the job id is the event id')
    .option('--failed', 'only jobs that gave up (no attempt left, or an error no retry can fix)')
    .option('--completed', 'only jobs completed in the last day')
    .option('--limit <n>', 'most jobs to show (1 to 1000)', limit(1000), 50)
    .option('--json', 'print { jobs, counts } as JSON')
    .action(
      run(async (ctx, options: { failed?: boolean; completed?: boolean; limit: number; json?: boolean }) => {
        if (options.failed && options.completed) throw new CliFailure('give --failed or --completed, not both');
        const states: readonly ListedState[] = options.failed ? ['failed'] : options.completed ? ['completed'] : OPEN_STATES;
        const { jobs, counts } = await withAdmin(ctx, (admin) => admin.list(states, options.limit));
        const total = states.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
        if (options.json) {
          await printLine(toJson({ jobs, counts, total, truncated: total > jobs.length }));
          return 0;
        }
        if (jobs.length === 0) await printLine(`no email jobs ${options.failed ? 'failed' : options.completed ? 'completed' : 'to do'}`);
        else for (const line of table(jobs)) await printLine(line);
        const countsLine = Object.entries(counts)
          .map(([state, n]) => `${state} ${n}`)
          .join(', ');
        await printLine(`${jobs.length} of ${total} shown (queue: ${countsLine})`);
        return 0;
      }),
    );
  emails
    .command('retry')
    .description('put failed email jobs back in the queue with a fresh set of attempts; the email is still sent at most once')
    .argument('[jobId]', 'the failed job to retry (its event id, as `emails list --failed` shows it)')
    .option('--all-failed', 'retry every failed job, newest first, up to --limit')
    .option('--limit <n>', 'most jobs --all-failed retries (1 to 10000)', limit(10_000), 1000)
    .option('--json', 'print the outcome as JSON')
    .action(
      run(async (ctx, jobId: string | undefined, options: { allFailed?: boolean; limit: number; json?: boolean }) => {
        if (Boolean(options.allFailed) === (jobId !== undefined)) throw new CliFailure('give a job id or --all-failed (one of them)');
        if (options.allFailed) {
          const report = await withAdmin(ctx, (admin) => admin.retryAllFailed(options.limit));
          if (options.json) await printLine(toJson(report));
          else {
            await printLine(`retried ${report.retried} failed email job(s)${report.skipped > 0 ? `; ${report.skipped} changed state meanwhile and were left alone` : ''}`);
            if (report.remainingFailed > 0) await printLine(`${report.remainingFailed} job(s) still failed (beyond --limit, or failed again already)`);
          }
          return 0;
        }
        try {
          const job = await withAdmin(ctx, (admin) => admin.retry(jobId!));
          await printLine(
            options.json ? toJson({ retried: job }) : `retried email job ${job.jobId} (${job.kind}, order ${job.orderId ?? '-'}): waiting, ${job.maxAttempts} attempts`,
          );
          return 0;
        } catch (error) {
          if (error instanceof EmailJobNotFoundError || error instanceof EmailJobNotFailedError) throw new CliFailure(error.message);
          throw error;
        }
      }),
    );
}
