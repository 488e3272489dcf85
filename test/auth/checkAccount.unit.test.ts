import type { AccountState } from '../../src/infra/auth/authState';
import { checkAccount } from '../../src/infra/auth/authenticator';

const account = (overrides: Partial<AccountState> = {}): AccountState => ({
  id: '6b0b7f5e-7d0e-4c4e-9d57-3c1f1f0f0a01',
  email: 'ana@example.test',
  role: 'user',
  disabled: false,
  tokenVersion: 2,
  revokedTokens: new Set(['revoked-jti']),
  ...overrides,
});
const token = { tokenId: 'live-jti', version: 2 };

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
};

describe('checkAccount', () => {
  test('when the account is as the token was signed for, then the user comes from the account (current role and email)', () => {
    expect(checkAccount(account({ role: 'admin', email: 'new@example.test' }), token)).toEqual({ id: account().id, email: 'new@example.test', role: 'admin' });
  });

  test.each([
    ['the account is gone', undefined, token, 'ACCOUNT_NOT_FOUND'],
    ['the account is disabled', account({ disabled: true }), token, 'ACCOUNT_DISABLED'],
    ['all tokens were revoked since it was signed', account({ tokenVersion: 3 }), token, 'TOKEN_REVOKED'],
    ['its version is ahead of the account (restored database)', account({ tokenVersion: 1 }), token, 'TOKEN_REVOKED'],
    ['this token was logged out', account(), { ...token, tokenId: 'revoked-jti' }, 'TOKEN_REVOKED'],
  ])('when %s, then 401 %s', (_label, state, presented, code) => {
    expect(codeOf(() => checkAccount(state, presented))).toBe(code);
  });
});
