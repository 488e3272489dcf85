import type { Knex } from 'knex';
import { randomInt } from 'node:crypto';
import { toDecimalAmount } from '../events/money';
import { passwordProblem } from '../commands/accounts/passwordPolicy';
import { createCredentialVerifier, createUser, emailSchema, EmailTakenError, findUserByEmail, InvalidCredentialsError } from '../commands/accounts/users';
import { createProduct, SkuTakenError, type CreateProduct } from '../commands/products';
import { getProduct, type ProductDto } from '../queries/products';
import { CliFailure } from './output';

export const DEFAULT_DEMO_ADMIN_EMAIL = 'admin@shop.example';

/** A small coffee shop: two currencies with two decimals and one without (JPY). Prices in minor units. */
export const demoProducts: readonly CreateProduct[] = [
  { sku: 'ESP-BEANS-1KG', name: 'Espresso beans, 1 kg', unitAmount: 2490, currency: 'EUR' },
  { sku: 'MOKA-POT-6', name: 'Moka pot, 6 cups', unitAmount: 3950, currency: 'EUR' },
  { sku: 'MUG-STONE-350', name: 'Stoneware mug, 350 ml', unitAmount: 1290, currency: 'EUR' },
  { sku: 'KETTLE-GOOSE-1L', name: 'Gooseneck kettle, 1 l', unitAmount: 6900, currency: 'USD' },
  { sku: 'DRIPPER-CERAMIC', name: 'Ceramic pour-over dripper', unitAmount: 2800, currency: 'USD' },
  { sku: 'FILTERS-100', name: 'Paper filters, pack of 100', unitAmount: 799, currency: 'USD' },
  { sku: 'MATCHA-30G', name: 'Ceremonial matcha, 30 g tin', unitAmount: 3200, currency: 'JPY' },
  { sku: 'CHASEN-100', name: 'Bamboo matcha whisk', unitAmount: 2500, currency: 'JPY' },
];

/** The customer the printed walkthrough registers. */
export const DEMO_CUSTOMER = { email: 'ada@example.com', password: 'correct-horse-battery' } as const;

// No look-alikes (0/o, 1/l/i), so a password copied by eye still works.
const PASSWORD_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/** Four groups of four: about 79 bits, easy to type, and accepted by the password policy. */
export function generatePassword(email: string): string {
  for (let attempt = 0; attempt < 20; attempt++) {
    const groups = Array.from({ length: 4 }, () => Array.from({ length: 4 }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]).join(''));
    const password = groups.join('-');
    if (!passwordProblem(password, email)) return password;
  }
  throw new CliFailure('could not generate a password the policy accepts; pass --admin-password');
}

export interface DemoOptions {
  adminEmail: string;
  /** Undefined: generate one (only when the admin is created). */
  adminPassword: string | undefined;
  bcryptRounds: number;
  now: Date;
}

export interface DemoAdmin {
  id: string;
  email: string;
  created: boolean;
  /** Only when this run generated it: it is stored as a bcrypt hash and cannot be shown again. */
  generatedPassword?: string;
}

export type DemoProduct = ProductDto & { created: boolean };

export interface DemoResult {
  changed: boolean;
  admin: DemoAdmin;
  products: DemoProduct[];
}

/** An existing account is the demo admin only if it is an admin and, when a password was given, takes that password. */
async function checkExistingAdmin(knex: Knex, email: string, password: string | undefined, bcryptRounds: number): Promise<DemoAdmin | undefined> {
  const existing = await findUserByEmail(knex, email);
  if (!existing) return undefined;
  if (existing.role !== 'admin') {
    throw new CliFailure(`${existing.email} exists and is not an admin; pass another --admin-email, or promote it with \`order-ledger users set-role ${existing.email} admin\``);
  }
  if (password !== undefined) {
    try {
      await createCredentialVerifier(knex, { bcryptRounds })(email, password);
    } catch (error) {
      if (!(error instanceof InvalidCredentialsError)) throw error;
      throw new CliFailure(`${existing.email} already exists with another password; demo never changes a password (pass another --admin-email, or leave out the password)`);
    }
  }
  return { id: existing.id, email: existing.email, created: false };
}

async function ensureAdmin(knex: Knex, options: DemoOptions, email: string): Promise<DemoAdmin> {
  const existing = await checkExistingAdmin(knex, email, options.adminPassword, options.bcryptRounds);
  if (existing) return existing;
  const password = options.adminPassword ?? generatePassword(email);
  try {
    const user = await createUser(knex, { email, password, role: 'admin' }, { bcryptRounds: options.bcryptRounds });
    return { id: user.id, email: user.email, created: true, ...(options.adminPassword === undefined ? { generatedPassword: password } : {}) };
  } catch (error) {
    // Another run made it meanwhile: the same checks as if it had been there from the start.
    if (!(error instanceof EmailTakenError)) throw error;
    const raced = await checkExistingAdmin(knex, email, options.adminPassword, options.bcryptRounds);
    if (!raced) throw error;
    return raced;
  }
}

async function ensureProduct(knex: Knex, product: CreateProduct, now: Date): Promise<DemoProduct> {
  try {
    return { ...(await createProduct(knex, product, now)), created: true };
  } catch (error) {
    if (!(error instanceof SkuTakenError)) throw error;
    // Left as it is: an admin may have repriced, renamed or deactivated it since.
    const row = (await knex('products').where('sku', product.sku).first('id')) as { id: string } | undefined;
    const existing = row ? await getProduct(knex, row.id, { includeInactive: true }) : undefined;
    if (!existing) throw error;
    return { ...existing, created: false };
  }
}

/**
 * Demo data for a first look: an admin and a small catalog. Idempotent: what exists (by email, by
 * sku) is kept as it is, so a second run changes nothing. Everything is checked before anything is
 * written, so a refusal leaves the database as it was.
 */
export async function seedDemo(knex: Knex, options: DemoOptions): Promise<DemoResult> {
  const email = emailSchema.safeParse(options.adminEmail);
  if (!email.success) throw new CliFailure(`--admin-email: ${email.error.issues[0]?.message ?? 'not an email address'}`);
  if (options.adminPassword !== undefined) {
    const problem = passwordProblem(options.adminPassword, email.data);
    if (problem) throw new CliFailure(problem.rule === 'length' ? problem.message : `refusing a weak password: ${problem.message}`);
  }
  // First: it is the one check that can refuse, and nothing is written before it.
  const admin = await ensureAdmin(knex, options, email.data);
  const products: DemoProduct[] = [];
  // One millisecond apart, so the catalog (newest first) lists them in this order.
  for (const [i, product] of demoProducts.entries()) products.push(await ensureProduct(knex, product, new Date(options.now.getTime() - i)));
  return { changed: admin.created || products.some((p) => p.created), admin, products };
}

/** Single-quoted for sh: safe for any text. */
function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The walkthrough from here, as shell lines to paste: a customer registers, browses, orders two
 * products with a MANUAL payment; the admin marks it paid and ships it. Needs curl and node.
 */
export function walkthrough(result: DemoResult, baseUrl: string): string[] {
  const [beans, pot] = result.products.filter((p) => p.currency === 'EUR' && p.active);
  const adminPassword = result.admin.generatedPassword ?? '<the admin password>';
  const json = (body: unknown): string => shellQuote(JSON.stringify(body));
  // Narrated with echo rather than # comments: zsh (macOS's shell) runs pasted # lines as commands.
  const lines = [
    `API=${shellQuote(baseUrl)}`,
    `json() { node -pe "JSON.parse(require('fs').readFileSync(0, 'utf8'))$1"; }`,
    `echo '== a customer registers (409 EMAIL_TAKEN on a second run is fine) and signs in'`,
    `curl -s "$API/auth/register" -H 'content-type: application/json' -d ${json(DEMO_CUSTOMER)}; echo`,
    `TOKEN=$(curl -s "$API/auth/login" -H 'content-type: application/json' -d ${json(DEMO_CUSTOMER)} | json .token)`,
    `echo '== the catalog (public): unitAmount is in minor units of the currency (2490 EUR = 24.90 EUR)'`,
    `curl -s "$API/products?limit=10"; echo`,
  ];
  if (beans && pot) {
    lines.push(
      `echo '== an order of 2 × ${beans.sku} and 1 × ${pot.sku}, paid by hand (MANUAL); the server prices it from the catalog'`,
      `ORDER=$(curl -s "$API/orders" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d ${json({
        items: [
          { productId: beans.id, quantity: 2 },
          { productId: pot.id, quantity: 1 },
        ],
        paymentMethod: 'MANUAL',
      })} | json .data.order.id)`,
      `echo "order $ORDER: open $API/ and sign in as ${DEMO_CUSTOMER.email} (or as the admin, for the live order board) to watch it move"`,
      `echo '== the admin confirms the payment and ships the order'`,
      `ADMIN_TOKEN=$(curl -s "$API/auth/login" -H 'content-type: application/json' -d ${json({ email: result.admin.email, password: adminPassword })} | json .token)`,
      `curl -s -X POST "$API/orders/$ORDER/mark-paid" -H "authorization: Bearer $ADMIN_TOKEN"; echo`,
      `for STATUS in PROCESSING SHIPPED DELIVERED; do curl -s -X PATCH "$API/orders/$ORDER/status" -H "authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' -d "{\\"status\\":\\"$STATUS\\"}"; echo; done`,
      `echo '== the order history, as the customer sees it'`,
      `curl -s "$API/orders/$ORDER/history" -H "authorization: Bearer $TOKEN"; echo`,
    );
  }
  return lines;
}

/** The human-readable report: what exists now, the password if one was made, and what to do next. */
export function formatDemo(result: DemoResult, baseUrl: string): string[] {
  const createdProducts = result.products.filter((p) => p.created).length;
  const lines: string[] = [];
  if (!result.changed) {
    lines.push('Nothing to do: the demo admin and products are already there (nothing was changed).');
  } else {
    const parts = [...(result.admin.created ? [`admin ${result.admin.email}`] : []), ...(createdProducts > 0 ? [`${createdProducts} product(s)`] : [])];
    lines.push(`Created ${parts.join(' and ')}.`);
  }
  lines.push('', `Admin     ${result.admin.email} (${result.admin.id})${result.admin.created ? '' : ', already there'}`);
  if (result.admin.generatedPassword) {
    lines.push(`Password  ${result.admin.generatedPassword}   <- shown once: only its bcrypt hash is stored`);
  } else if (result.admin.created) {
    lines.push('Password  the one you gave: put it in place of <the admin password> below');
  } else {
    lines.push('Password  as it was set when the admin was made (not shown again): put it in place of <the admin password> below');
  }
  lines.push('', 'Products');
  const skuWidth = Math.max(...result.products.map((p) => p.sku.length));
  const nameWidth = Math.max(...result.products.map((p) => p.name.length));
  for (const p of result.products) {
    const price = `${toDecimalAmount(p.unitAmount, p.currency)} ${p.currency}`.padStart(12);
    const state = p.created ? 'created' : p.active ? 'already there' : 'already there, inactive';
    lines.push(`  ${p.id}  ${p.sku.padEnd(skuWidth)}  ${p.name.padEnd(nameWidth)}  ${price}  (unitAmount ${p.unitAmount}; ${state})`);
  }
  lines.push(
    '',
    `Next: start the server (\`npm start\`) if it is not running, then paste these lines into a shell (curl and node):`,
    '',
    ...walkthrough(result, baseUrl).map((line) => `  ${line}`),
    '',
    `Swagger UI: ${baseUrl}/api-docs   The shop and live order board: ${baseUrl}/`,
  );
  return lines;
}
