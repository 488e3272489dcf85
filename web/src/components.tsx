import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { formatTime, statusText } from './format';
import type { OrderStatus } from './types';

export function StatusBadge({ status }: { status: OrderStatus }) {
  return <span class={`badge badge-${status.toLowerCase()}`}>{statusText(status)}</span>;
}

export function Time({ iso }: { iso: string }) {
  return <time dateTime={iso}>{formatTime(iso)}</time>;
}

/** Errors interrupt (role=alert); the rest is announced politely. */
export function Notice({ kind, children, onDismiss }: { kind: 'error' | 'info' | 'success' | 'conflict'; children: ComponentChildren; onDismiss?: () => void }) {
  const urgent = kind === 'error' || kind === 'conflict';
  return (
    <div class={`notice notice-${kind}`} role={urgent ? 'alert' : 'status'}>
      <div class="notice-body">{children}</div>
      {onDismiss && (
        <button type="button" class="quiet" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}

// The first page after a load leaves focus where the browser puts it (the skip link comes first).
let firstPage = true;

/** The page's title: focused when the page changes, so keyboard and screen-reader users start there. */
export function PageTitle({ children, title, id }: { children: ComponentChildren; title: string; id?: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · order-ledger`;
    if (firstPage) firstPage = false;
    else ref.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <h1 ref={ref} id={id} tabIndex={-1}>
      {children}
    </h1>
  );
}

export const Hidden = ({ children }: { children: ComponentChildren }) => <span class="sr-only">{children}</span>;
