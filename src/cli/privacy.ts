import type { Command } from 'commander';
import { findUserByEmail } from '../commands/accounts/users';
import { eraseCustomer, UserNotFoundError } from '../commands/privacy/eraseCustomer';
import { PostgresDataKeyStore } from '../infra/privacy/dataKeyStore';
import { localKeyWrapper } from '../infra/privacy/masterKey';
import type { CliContext } from './context';
import { printLine, toJson } from './output';

type Run = <A extends unknown[]>(action: (ctx: CliContext, ...args: A) => Promise<number>) => (...args: A) => Promise<void>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function dataKeysOf(ctx: CliContext): PostgresDataKeyStore {
  return new PostgresDataKeyStore(
    ctx.knex(),
    localKeyWrapper(ctx.config, (message) => ctx.logger.warn(message)),
  );
}

/** `order-ledger privacy …`: erasure (GDPR Art. 17) and master-key rotation. */
export function addPrivacyCommands(program: Command, run: Run): void {
  const privacy = program.command('privacy').description("customers' personal data: erasure and master-key rotation");
  privacy
    .command('erase')
    .description(
      "erase a customer's personal data (crypto-shredding) and close the account; open orders are cancelled (paid ones refunded), orders being prepared or shipped make it wait",
    )
    .argument('<user>', 'user id or email (case-insensitive)')
    .option('--json', 'print the result as JSON')
    .action(
      run(async (ctx, who: string, options: { json?: boolean }) => {
        const userId = UUID.test(who) ? who.toLowerCase() : (await findUserByEmail(ctx.knex(), who))?.id;
        if (!userId) throw new UserNotFoundError();
        const result = await eraseCustomer(
          { knex: ctx.knex(), store: await ctx.openStore(), dataKeys: dataKeysOf(ctx), mailOutboxDir: ctx.config.SMTP_URL ? undefined : ctx.config.MAIL_OUTBOX_DIR },
          userId,
          { now: new Date().toISOString(), context: { actor: { type: 'admin', id: 'cli' } } },
        );
        await printLine(
          options.json
            ? toJson(result)
            : `erased user ${userId}: ${result.erasedOrderIds.length} order(s) now read as erased, ${result.cancelledOrderIds.length} cancelled, ${result.outboxFilesRemoved} outbox file(s) removed`,
        );
        return 0;
      }),
    );
  privacy
    .command('rotate-master-key')
    .description('rewrap every data key with PII_MASTER_KEY (the old key in PII_PREVIOUS_MASTER_KEYS); events are not rewritten')
    .option('--json', 'print the counts as JSON')
    .action(
      run(async (ctx, options: { json?: boolean }) => {
        const result = await dataKeysOf(ctx).rewrapAll();
        await printLine(options.json ? toJson(result) : `rewrapped ${result.rewrapped} of ${result.total} data key(s) with the current master key`);
        return 0;
      }),
    );
}
