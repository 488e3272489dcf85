import { STOCK_STREAM_PREFIX } from '../../events/stockCodec';

/**
 * What placing an order reads before it decides, in one round trip: the requested products, the
 * buyer's default shipping address and, when the event store is this database, whether each
 * product's stock is tracked (its stock stream has events; an append's lock row, revision -1, is
 * no stream).
 *
 * A function rather than a prepared statement because of its plan: PostgreSQL re-plans a prepared
 * statement for every call while a custom plan looks cheaper than the generic one, and for
 * `id = any($1)` it always does (the generic plan assumes ten products, a custom one sees one), so
 * every order paid ~150 µs of planning. The function's SET pins the generic plan, which PL/pgSQL
 * caches per connection; the plan is the same index probes (test/eventstore/postgresHotQueryPlans).
 * The stock probe is a LATERAL … LIMIT 1 per product: a correlated EXISTS may be planned as a hash
 * of the whole streams table (one row per order), and a cached plan would keep doing that as it grows.
 */
export function placementQuerySql(withStockProbe: boolean, userParam: string, productsParam: string): string {
  const probe = withStockProbe
    ? `left join lateral (
         select true as tracked from streams
          where streams.stream_id = '${STOCK_STREAM_PREFIX}' || products.id::text and streams.revision >= 0
          limit 1
       ) stock on true`
    : '';
  return `select products.id, products.sku, products.name, products.unit_amount, products.currency::text, products.active,
            (select users.default_shipping_address from users where users.id = ${userParam}),
            ${withStockProbe ? 'stock.tracked is not null' : 'false'}
       from products ${probe}
      where products.id = any(${productsParam})`;
}

export const placementFunctionSql = `
create or replace function order_ledger_placement(p_user_id uuid, p_product_ids uuid[], p_stock_probe boolean)
returns table (id uuid, sku text, name text, unit_amount bigint, currency text, active boolean, default_shipping_address text, stock_tracked boolean)
language plpgsql stable
set plan_cache_mode = force_generic_plan
as $fn$
begin
  if p_stock_probe then
    return query ${placementQuerySql(true, 'p_user_id', 'p_product_ids')};
  else
    return query ${placementQuerySql(false, 'p_user_id', 'p_product_ids')};
  end if;
end
$fn$;
`;
