import { useEffect, useState } from 'preact/hooks';

/** A value the whole page shares (session, connection status, announcements) and components follow. */
export interface Store<T> {
  get(): T;
  set(value: T): void;
  update(change: (value: T) => T): void;
  subscribe(listener: (value: T) => void): () => void;
}

export function createStore<T>(initial: T): Store<T> {
  let value = initial;
  const listeners = new Set<(value: T) => void>();
  const set = (next: T): void => {
    if (Object.is(next, value)) return;
    value = next;
    for (const listener of [...listeners]) listener(value);
  };
  return {
    get: () => value,
    set,
    update: (change) => set(change(value)),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function useStore<T>(store: Store<T>): T {
  const [value, setValue] = useState<{ current: T }>({ current: store.get() });
  useEffect(() => {
    setValue({ current: store.get() });
    return store.subscribe((next) => setValue({ current: next }));
  }, [store]);
  return value.current;
}
