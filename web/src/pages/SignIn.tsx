import { useState } from 'preact/hooks';
import { api, messageOf } from '../api';
import { Notice, PageTitle } from '../components';
import { links, navigate, takeReturn } from '../router';
import { signIn, signOutReason } from '../session';
import { useStore } from '../store';
import type { User } from '../types';

interface LoginAnswer {
  token: string;
  user: User;
}

export function SignIn() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const reason = useStore(signOutReason);

  async function login(): Promise<void> {
    const answer = await api<LoginAnswer>('POST', '/auth/login', { body: { email, password }, auth: false });
    signIn(answer.token, answer.user);
    navigate(takeReturn() ?? (answer.user.role === 'admin' ? links.board : links.shop));
  }

  async function run(action: () => Promise<void>): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  }

  function onSubmit(event: SubmitEvent): void {
    event.preventDefault();
    void run(login);
  }

  function onRegister(event: MouseEvent): void {
    const form = (event.currentTarget as HTMLButtonElement).form;
    if (form && !form.reportValidity()) return;
    void run(async () => {
      await api('POST', '/auth/register', { body: { email, password }, auth: false });
      await login();
    });
  }

  return (
    <section class="panel narrow" aria-labelledby="sign-in-title">
      <PageTitle title="Sign in" id="sign-in-title">
        Sign in
      </PageTitle>
      <p>Shop, follow your orders as they move, and — as an admin — run the live order board.</p>
      {reason && <Notice kind="info">{reason}</Notice>}
      <form class="stack" onSubmit={onSubmit}>
        <div class="field">
          <label for="email">Email</label>
          <input id="email" name="email" type="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            aria-describedby="password-hint"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
          <p id="password-hint" class="hint">
            New here? Choose a password of 8 to 72 characters and create an account.
          </p>
        </div>
        {error && <Notice kind="error">{error}</Notice>}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Sign in
          </button>
          <button type="button" disabled={busy} onClick={onRegister}>
            Create account
          </button>
        </div>
      </form>
    </section>
  );
}
