import { SingleBar } from 'cli-progress';
import { AppError } from '../errors';

/** A failure the command explains itself: printed as one line, exit code 1. */
export class CliFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliFailure';
  }
}

const pgHints: Record<string, string> = {
  '42P01': 'is the database migrated? run `order-ledger migrate`',
  '3D000': 'run `order-ledger migrate` to create it',
};

/** One line, no stack: what an operator needs to act on a failure. */
export function errorLine(error: unknown): string {
  if (!(error instanceof Error)) return String(error).replace(/\s*\n\s*/g, ' ');
  let message = error.message;
  // Node reports a refused connection to several addresses as an AggregateError with no message.
  if (!message && error instanceof AggregateError && error.errors.length > 0) message = errorLine(error.errors[0]);
  if (!message) message = (error as { code?: string }).code ?? error.name;
  const parts = message
    .split('\n')
    .map((part) => part.trim())
    .filter(Boolean);
  // A multi-line message (the configuration's list of issues) becomes "head item; item".
  message = parts.length > 1 ? `${parts[0]} ${parts.slice(1).join('; ')}` : (parts[0] ?? '');
  if (error instanceof AppError) return `${message} (${error.code})`;
  const hint = pgHints[(error as { code?: string }).code ?? ''];
  return hint ? `${message} (${hint})` : message;
}

/** JSON with bigints as decimal strings: positions exceed Number.MAX_SAFE_INTEGER. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), indent);
}

/** Writes to stdout and waits for it to drain when its buffer is full, so a slow reader slows us down. */
export async function writeOut(chunk: string): Promise<void> {
  if (process.stdout.write(chunk)) return;
  const stdout = process.stdout;
  await new Promise<void>((resolve) => {
    // Whichever comes first; the other listener is removed so none pile up over millions of lines.
    const done = (): void => {
      stdout.off('drain', done);
      stdout.off('close', done);
      resolve();
    };
    stdout.on('drain', done);
    stdout.on('close', done);
  });
}

export function printLine(line = ''): Promise<void> {
  return writeOut(`${line}\n`);
}

export interface Progress {
  /** `done` events so far; `total` may grow while events keep arriving. */
  update(done: number, total?: number): void;
  stop(): void;
}

/**
 * A bar on a terminal; plain lines every few seconds otherwise (CI logs, pipes). Always on stderr so
 * stdout keeps only the command's result.
 */
export function createProgress(label: string, total: number | undefined, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY && total !== undefined && total > 0) {
    const bar = new SingleBar({
      stream,
      format: `${label} [{bar}] {percentage}% | {value}/{total} events | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
    });
    let barTotal = total;
    bar.start(barTotal, 0);
    return {
      update(done, newTotal) {
        const wanted = Math.max(newTotal ?? barTotal, done);
        if (wanted !== barTotal) {
          barTotal = wanted;
          bar.setTotal(barTotal);
        }
        bar.update(done);
      },
      stop() {
        bar.stop();
      },
    };
  }
  const intervalMs = 2000;
  let lastPrinted = 0;
  let last = 0;
  let lastTotal = total;
  let printed = '';
  const line = (): void => {
    const text = `${label}: ${last}${lastTotal !== undefined ? `/${Math.max(lastTotal, last)}` : ''} events`;
    if (text === printed) return;
    printed = text;
    stream.write(`${text}\n`);
  };
  return {
    update(done, newTotal) {
      last = done;
      if (newTotal !== undefined) lastTotal = newTotal;
      const now = Date.now();
      if (now - lastPrinted >= intervalMs) {
        lastPrinted = now;
        line();
      }
    },
    stop() {
      line();
    },
  };
}
