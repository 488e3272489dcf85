import { useEffect } from 'preact/hooks';
import { api, messageOf } from './api';
import { Notice } from './components';
import { formatTime } from './format';
import { AdminBoard } from './pages/AdminBoard';
import { MyOrders } from './pages/MyOrders';
import { OrderDetail } from './pages/OrderDetail';
import { Shop } from './pages/Shop';
import { SignIn } from './pages/SignIn';
import { Timeline } from './pages/Timeline';
import { announcements, connection, startRealtime, stopRealtime, type ConnectionStatus } from './realtime';
import { links, navigate, rememberReturn, route, type Route } from './router';
import { session, signOut, type Session } from './session';
import { useStore } from './store';

const connectionText: Record<ConnectionStatus, string> = {
  offline: 'offline',
  connecting: 'connecting',
  live: 'live',
  reconnecting: 'reconnecting',
};

function ConnectionIndicator() {
  const status = useStore(connection);
  return (
    <p id="connection-status" class={`connection connection-${status}`} role="status">
      <span class="dot" aria-hidden="true" />
      Updates: <strong>{connectionText[status]}</strong>
    </p>
  );
}

function Announcements() {
  const list = useStore(announcements);
  return (
    <section class="announcements" aria-label="Announcements" aria-live="polite">
      {list.slice(0, 1).map((item) => (
        <p key={item.at} class="announcement">
          <strong>Announcement:</strong> {item.message} <span class="muted">({formatTime(item.at)})</span>
        </p>
      ))}
    </section>
  );
}

function NavLink({ href, current, children }: { href: string; current: boolean; children: string }) {
  return (
    <li>
      <a href={href} aria-current={current ? 'page' : undefined}>
        {children}
      </a>
    </li>
  );
}

/**
 * The queue dashboard is a page of its own (bull-board): a browser cannot send the bearer token when
 * it navigates, so the token first buys a short-lived cookie scoped to the dashboard's path.
 */
async function openQueueDashboard(event: MouseEvent): Promise<void> {
  event.preventDefault();
  try {
    const answer = await api<{ data: { url: string } }>('POST', '/admin/queues/session');
    location.assign(answer.data.url);
  } catch (error) {
    window.alert(`The email queue could not be opened: ${messageOf(error)}`);
  }
}

function Header({ current, at }: { current: Session | null; at: Route }) {
  const admin = current?.user.role === 'admin';
  return (
    <header class="site-header">
      <a class="brand" href={links.home}>
        order-ledger
      </a>
      {current && (
        <nav aria-label="Main">
          <ul>
            {admin && (
              <NavLink href={links.board} current={at.page === 'board'}>
                Order board
              </NavLink>
            )}
            <NavLink href={links.shop} current={at.page === 'shop'}>
              Shop
            </NavLink>
            <NavLink href={links.orders} current={at.page === 'orders'}>
              {admin ? 'All orders' : 'My orders'}
            </NavLink>
            {admin && (
              <li>
                <a href="/admin/queues/" onClick={(event) => void openQueueDashboard(event)}>
                  Email queue
                </a>
              </li>
            )}
          </ul>
        </nav>
      )}
      {current && <ConnectionIndicator />}
      {current && (
        <div class="who">
          <span>
            {current.user.email}
            {admin ? ' (admin)' : ''}
          </span>
          <button type="button" class="quiet" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      )}
    </header>
  );
}

function Page({ at, current }: { at: Route; current: Session }) {
  switch (at.page) {
    case 'home':
    case 'shop':
      return <Shop />;
    case 'orders':
      return <MyOrders />;
    case 'order':
      return <OrderDetail id={at.id} />;
    case 'timeline':
      return <Timeline id={at.id} />;
    case 'board':
      if (current.user.role !== 'admin') return <Notice kind="error">The order board is for admins. Your own orders are under “My orders”.</Notice>;
      return <AdminBoard />;
    case 'missing':
      return <Notice kind="error">There is no page at “{at.hash}”. Use the navigation above.</Notice>;
    default: {
      const exhaustive: never = at;
      return exhaustive;
    }
  }
}

function skipToContent(event: MouseEvent): void {
  event.preventDefault();
  document.getElementById('main')?.focus();
}

export function App() {
  const current = useStore(session);
  const at = useStore(route);
  const token = current?.token;

  useEffect(() => {
    if (token) startRealtime();
    else stopRealtime();
  }, [token]);

  useEffect(() => {
    // Home is the sign-in page; once signed in it leads to the page for the role.
    if (current && at.page === 'home') navigate(current.user.role === 'admin' ? links.board : links.shop);
    if (!current && at.page !== 'home') {
      if (at.page !== 'missing') rememberReturn(location.hash);
      navigate(links.home);
    }
  }, [current, at]);

  return (
    <>
      <a class="skip-link" href="#main" onClick={skipToContent}>
        Skip to content
      </a>
      <Header current={current} at={at} />
      {current && <Announcements />}
      <main id="main" tabIndex={-1}>
        {current ? <Page at={at} current={current} /> : <SignIn />}
      </main>
      <footer class="site-footer">
        <p>
          order-ledger · an event-sourced order backend · <a href="/api-docs">API documentation</a>
        </p>
      </footer>
    </>
  );
}
