import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile as writeFilePromises } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import MailComposer, { type MailComposerOptions } from 'nodemailer/lib/mail-composer';
import type { OrderEvent } from '../src/events/orderEvents';
import { loadConfig } from '../src/infra/config/config';
import { createLogger } from '../src/infra/logger';
import { composeMessage } from '../src/infra/mail/composeMessage';
import { createMailer, messageFields, type OutgoingEmail } from '../src/infra/mail/mailer';
import { emailKindFor, renderEmail } from '../src/projections/notifications/emailTemplates';
import { orderLife } from './lib/seedOrders';
import { median, type Figure } from './lib/report';

/** The email worker's concurrency. */
const WRITERS = 16;
const address = { name: 'Zoë Lovelace', line1: '12 St James Square', line2: 'Flat 3', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' };
const writeFileCallback = promisify(fs.writeFile);

/** CPU of the whole process (thread pool included) per item, `count` items taken by WRITERS concurrent loops. */
async function cpuPerItem(count: number, work: (i: number) => Promise<unknown>): Promise<number> {
  return (await costPerItem(count, work)).cpu;
}

async function costPerItem(count: number, work: (i: number) => Promise<unknown>): Promise<{ cpu: number; wall: number }> {
  let next = 0;
  const before = process.cpuUsage();
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (next < count) await work(next++);
    }),
  );
  const used = process.cpuUsage(before);
  return { cpu: (used.user + used.system) / count, wall: Number(process.hrtime.bigint() - started) / 1000 / count };
}

/** The emails of 40 whole order lives (placed, paid, shipped, delivered), half of them with a shipping address. */
function orderEmails(): OutgoingEmail[] {
  const emails: OutgoingEmail[] = [];
  for (let n = 0; n < 40; n++) {
    const life: OrderEvent[] = orderLife(randomUUID(), Date.parse('2026-01-01T00:00:00Z') + n * 10_000);
    const placed = life[0]!;
    if (placed.type !== 'OrderPlaced') throw new Error('an order life starts with OrderPlaced');
    for (const event of life) {
      const kind = emailKindFor(event);
      if (!kind) continue;
      const rendered = renderEmail(kind, {
        orderId: placed.data.orderId,
        items: placed.data.items,
        totalAmount: placed.data.totalAmount,
        currency: 'EUR',
        event,
        ...(n % 2 ? { shippingAddress: address } : {}),
      });
      emails.push({ ...rendered, to: 'Zoë <zoe@example.test>', eventId: randomUUID() });
    }
  }
  return emails;
}

/** What the outbox mailer did before issue 19: nodemailer's streaming build(), then fs/promises. */
async function composeWithBuild(fields: MailComposerOptions): Promise<Buffer> {
  const built = await new MailComposer(fields).compile().build();
  return Buffer.from(built.toString('utf8').replace(/\r\n/g, '\n'), 'utf8');
}

async function composeSerialized(fields: MailComposerOptions): Promise<Buffer> {
  return Buffer.from((await composeMessage(fields)).message.replace(/\r\n/g, '\n'), 'utf8');
}

/**
 * Figure 11: what one email costs the worker to compose and write. (a) CPU per email of
 * composing it: nodemailer's MailComposer tree written out by `serializeMessage` against the same
 * tree's streaming `build()` (the reference), rendered order emails, 16 at a time as the worker
 * runs them. (b) CPU per outbox file (~2.5 KB) of the callback `fs.writeFile` the mailer uses,
 * against `fs/promises` `writeFile` and `writeFileSync`. (c) The outbox mailer's `send()` against
 * the same steps done the old way. Runs alternate A B B A (writes: A B C C B A), medians; CPU is
 * the process's, thread pool included; every file is a new one in a directory of its own.
 */
export async function benchEmailCompose(quick: boolean): Promise<Figure[]> {
  const config = loadConfig({ MAIL_FROM: 'Order Ledger <orders@shop.example>' });
  const emails = orderEmails();
  const fields = emails.map((email) => messageFields(config, email));
  const count = quick ? 2000 : 8000;
  const order = quick ? 'ABBA' : 'ABBAABBA';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ol-bench-outbox-'));
  try {
    // Warm both paths (and the JIT) before anything is counted.
    for (let i = 0; i < 2000; i++) {
      await composeWithBuild(fields[i % fields.length]!);
      await composeSerialized(fields[i % fields.length]!);
    }
    const outbox = path.join(dir, 'mailer');
    const mailer = createMailer(loadConfig({ MAIL_FROM: 'Order Ledger <orders@shop.example>', MAIL_OUTBOX_DIR: outbox }), createLogger('silent'));
    for (let i = 0; i < 500; i++) await mailer.send({ ...emails[i % emails.length]!, eventId: `warm-${i}` });
    await rm(outbox, { recursive: true, force: true });

    const compose = { A: [] as number[], B: [] as number[] };
    for (const letter of order) {
      const run = letter === 'A' ? composeWithBuild : composeSerialized;
      compose[letter as 'A' | 'B'].push(await cpuPerItem(count, (i) => run(fields[i % fields.length]!)));
    }
    const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
    const built = median(compose.A);
    const serialized = median(compose.B);
    process.stderr.write(`[bench]   compose: build() ${built.toFixed(1)} µs, serialized ${serialized.toFixed(1)} µs per email\n`);

    const files = await Promise.all(fields.map(composeSerialized));
    const bytes = mean(files.map((f) => f.length));
    const writers: Record<string, (file: string, data: Buffer) => Promise<unknown>> = {
      promises: (file, data) => writeFilePromises(file, data),
      callback: (file, data) => writeFileCallback(file, data),
      sync: async (file, data) => fs.writeFileSync(file, data),
    };
    const writes: Record<string, number[]> = { promises: [], callback: [], sync: [] };
    // A synchronous write holds the event loop for all of its wall time.
    const syncWall: number[] = [];
    const variantOrder = ['promises', 'callback', 'sync'];
    for (const variants of quick ? [variantOrder] : [variantOrder, [...variantOrder].reverse(), variantOrder, [...variantOrder].reverse()]) {
      for (const variant of variants) {
        const target = path.join(dir, variant);
        await mkdir(target, { recursive: true });
        const cost = await costPerItem(count, (i) => writers[variant]!(path.join(target, `${i}.eml`), files[i % files.length]!));
        writes[variant]!.push(cost.cpu);
        if (variant === 'sync') syncWall.push(cost.wall);
        await rm(target, { recursive: true, force: true });
      }
    }
    const write = { promises: median(writes.promises!), callback: median(writes.callback!), sync: median(writes.sync!) };
    process.stderr.write(
      `[bench]   outbox write: fs/promises ${write.promises.toFixed(1)}, callback ${write.callback.toFixed(1)}, sync ${write.sync.toFixed(1)} µs per file (sync: ${median(syncWall).toFixed(0)} µs wall, the loop held)\n`,
    );

    const before = path.join(dir, 'before');
    const sends = { A: [] as number[], B: [] as number[] };
    for (const [round, letter] of [...order].entries()) {
      await mkdir(before, { recursive: true });
      sends[letter as 'A' | 'B'].push(
        await cpuPerItem(count, async (i) => {
          // Event ids are unique, and so are the files they name.
          if (letter === 'B') return mailer.send({ ...emails[i % emails.length]!, eventId: `${round}-${i}` });
          const data = await composeWithBuild(fields[i % fields.length]!);
          return writeFilePromises(path.join(before, `${i}.eml`), data);
        }),
      );
      await rm(letter === 'A' ? before : outbox, { recursive: true, force: true });
    }
    const send = { before: median(sends.A), now: median(sends.B) };
    process.stderr.write(`[bench]   outbox send: before ${send.before.toFixed(1)}, now ${send.now.toFixed(1)} µs per email\n`);

    return [
      {
        name: `11a email compose c${WRITERS}, CPU per email (MailComposer tree to bytes)`,
        unit: 'µs',
        ours: serialized,
        reference: { label: 'same tree, build()', value: built },
        target: '≤ 0.5×reference',
        met: serialized <= 0.5 * built,
        extra: { emails: emails.length, meanBytes: Math.round(bytes) },
      },
      {
        name: `11b outbox file write c${WRITERS} (~${Math.round(bytes / 100) / 10} KB), CPU per file: callback fs.writeFile`,
        unit: 'µs',
        ours: write.callback,
        reference: { label: 'fs/promises writeFile', value: write.promises },
        peer: { label: 'writeFileSync', value: write.sync },
        target: 'ratio reported',
        extra: { syncWallUsPerFile: Math.round(median(syncWall)) },
      },
      {
        name: `11c outbox mailer send c${WRITERS}, CPU per email (compose + write)`,
        unit: 'µs',
        ours: send.now,
        reference: { label: 'build() + fs/promises', value: send.before },
        // Creating the file is the kernel's work, the same for both, and most of a send here.
        target: 'ratio reported',
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
