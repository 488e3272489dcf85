import { useEffect, useRef, useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { Hidden, Notice, PageTitle } from '../components';
import { formatMoney, methodLabel, randomId } from '../format';
import { rememberWrite } from '../liveOrders';
import { rememberApprovalLink } from '../payments';
import { links, navigate } from '../router';
import type { Order, Page, PaymentMethod, Product } from '../types';

const MAX_QUANTITY = 1000;

const methodHint: Record<PaymentMethod, string> = {
  MANUAL: 'Pay by bank transfer; the order becomes PAID once we have confirmed your payment.',
  PAYPAL: 'You approve the payment at PayPal, then come back and complete it on the order page.',
  STRIPE: 'Card payment through Stripe; the order becomes PAID when Stripe confirms it.',
};

interface PlaceAnswer {
  data: { order: Order; position: string; paymentUrl?: string; clientSecret?: string };
}

export function Shop() {
  const [products, setProducts] = useState<Product[] | null>(null);
  const [total, setTotal] = useState(0);
  const [methods, setMethods] = useState<PaymentMethod[]>(['MANUAL']);
  const [method, setMethod] = useState<PaymentMethod>('MANUAL');
  const [quantities, setQuantities] = useState<Record<string, string>>({});
  const [cart, setCart] = useState<Record<string, number>>({});
  const [placing, setPlacing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [added, setAdded] = useState<string | null>(null);
  // One key per cart: a retry after a lost answer returns the same order instead of placing another.
  const idempotencyKey = useRef<string | null>(null);

  useEffect(() => {
    let live = true;
    Promise.all([api<Page<Product>>('GET', '/products?limit=100'), api<{ data: PaymentMethod[] }>('GET', '/payments/methods', { auth: false })])
      .then(([catalog, configured]) => {
        if (!live) return;
        setProducts(catalog.data);
        setTotal(catalog.meta.total);
        setMethods(configured.data.length > 0 ? configured.data : ['MANUAL']);
      })
      .catch((failure: unknown) => live && setError(messageOf(failure)));
    return () => {
      live = false;
    };
  }, []);

  const byId = new Map((products ?? []).map((product) => [product.id, product]));
  const lines = Object.entries(cart)
    .map(([id, quantity]) => ({ product: byId.get(id), quantity }))
    .filter((line): line is { product: Product; quantity: number } => line.product !== undefined);
  const currencies = [...new Set(lines.map((line) => line.product.currency))];
  const cartTotal = lines.reduce((sum, line) => sum + line.product.unitAmount * line.quantity, 0);

  function changeCart(change: (cart: Record<string, number>) => Record<string, number>): void {
    setCart(change);
    idempotencyKey.current = null;
    setError(null);
  }

  function add(product: Product): void {
    const quantity = Number(quantities[product.id] ?? '1');
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
      setError(`Quantity of ${product.name} must be a whole number from 1 to ${MAX_QUANTITY}.`);
      return;
    }
    changeCart((current) => ({ ...current, [product.id]: Math.min(MAX_QUANTITY, (current[product.id] ?? 0) + quantity) }));
    setAdded(`${quantity} × ${product.name} added to the cart.`);
  }

  function remove(product: Product): void {
    changeCart((current) => {
      const { [product.id]: _removed, ...rest } = current;
      return rest;
    });
    setAdded(`${product.name} removed from the cart.`);
  }

  async function place(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    if (lines.length === 0 || currencies.length > 1) return;
    setPlacing(true);
    setError(null);
    idempotencyKey.current ??= randomId();
    try {
      const answer = await api<PlaceAnswer>('POST', '/orders', {
        body: { items: lines.map((line) => ({ productId: line.product.id, quantity: line.quantity })), paymentMethod: method },
        headers: { 'Idempotency-Key': idempotencyKey.current },
      });
      const order = answer.data.order;
      if (answer.data.paymentUrl) rememberApprovalLink(order.id, answer.data.paymentUrl);
      rememberWrite(order.id, answer.data.position);
      setCart({});
      idempotencyKey.current = null;
      navigate(links.order(order.id));
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setPlacing(false);
    }
  }

  return (
    <>
      <PageTitle title="Shop">Shop</PageTitle>
      <div class="shop">
        <section aria-labelledby="catalog-title">
          <h2 id="catalog-title">Catalog</h2>
          {products === null && !error && <p>Loading the catalog…</p>}
          {products !== null && products.length === 0 && <p>No products yet: an admin adds them with POST /products.</p>}
          {products !== null && total > products.length && (
            <p class="muted">
              Showing {products.length} of {total} products.
            </p>
          )}
          <ul class="products">
            {(products ?? []).map((product) => (
              <li key={product.id} class="product">
                <h3>{product.name}</h3>
                <p class="muted">SKU {product.sku}</p>
                <p class="price">{formatMoney(product.unitAmount, product.currency)}</p>
                <div class="add">
                  <label for={`quantity-${product.id}`}>
                    Quantity<Hidden> of {product.name}</Hidden>
                  </label>
                  <input
                    id={`quantity-${product.id}`}
                    type="number"
                    inputMode="numeric"
                    min={1}
                    max={MAX_QUANTITY}
                    value={quantities[product.id] ?? '1'}
                    onInput={(e) => setQuantities({ ...quantities, [product.id]: e.currentTarget.value })}
                  />
                  <button type="button" onClick={() => add(product)}>
                    Add<Hidden> {product.name}</Hidden> to cart
                  </button>
                </div>
              </li>
            ))}
          </ul>
        </section>
        <section class="cart panel" aria-labelledby="cart-title">
          <h2 id="cart-title">Cart</h2>
          <p class="sr-only" role="status">
            {added}
          </p>
          {lines.length === 0 ? (
            <p>Your cart is empty.</p>
          ) : (
            <table>
              <caption class="sr-only">Items in your cart</caption>
              <thead>
                <tr>
                  <th scope="col">Item</th>
                  <th scope="col" class="num">
                    Qty
                  </th>
                  <th scope="col" class="num">
                    Amount
                  </th>
                  <th scope="col">
                    <Hidden>Actions</Hidden>
                  </th>
                </tr>
              </thead>
              <tbody>
                {lines.map(({ product, quantity }) => (
                  <tr key={product.id}>
                    <td>{product.name}</td>
                    <td class="num">{quantity}</td>
                    <td class="num">{formatMoney(product.unitAmount * quantity, product.currency)}</td>
                    <td>
                      <button type="button" class="quiet" onClick={() => remove(product)}>
                        Remove<Hidden> {product.name}</Hidden>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
              {currencies.length === 1 && (
                <tfoot>
                  <tr>
                    <th scope="row" colSpan={2}>
                      Total
                    </th>
                    <td class="num">
                      <strong>{formatMoney(cartTotal, currencies[0]!)}</strong>
                    </td>
                    <td />
                  </tr>
                </tfoot>
              )}
            </table>
          )}
          {currencies.length > 1 && <Notice kind="error">One order takes one currency; this cart mixes {currencies.join(' and ')}. Remove items until one is left.</Notice>}
          <form class="stack" onSubmit={(e) => void place(e)}>
            <div class="field">
              <label for="payment-method">Payment method</label>
              <select id="payment-method" value={method} aria-describedby="payment-hint" onChange={(e) => setMethod(e.currentTarget.value as PaymentMethod)}>
                {methods.map((option) => (
                  <option key={option} value={option}>
                    {methodLabel[option]}
                  </option>
                ))}
              </select>
              <p id="payment-hint" class="hint">
                {methodHint[method]}
              </p>
            </div>
            {error && <Notice kind="error">{error}</Notice>}
            <button type="submit" class="primary" disabled={placing || lines.length === 0 || currencies.length > 1}>
              {placing ? 'Placing order…' : 'Place order'}
            </button>
          </form>
        </section>
      </div>
    </>
  );
}
