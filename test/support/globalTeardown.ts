import { dropDatabase, listDatabases } from './testDatabase';

export default async function globalTeardown(): Promise<void> {
  const template = process.env.ORDER_LEDGER_TEST_TEMPLATE;
  if (!template) return;
  const runPrefix = template.replace(/_tpl$/, '');
  for (const name of await listDatabases(runPrefix)) await dropDatabase(name);
}
