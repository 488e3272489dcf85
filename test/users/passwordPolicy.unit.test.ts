import { passwordProblem } from '../../src/commands/accounts/passwordPolicy';

const email = 'Jane.Doe@example.com';

describe('passwordProblem: the one password policy', () => {
  it.each([
    ['7 bytes', 'Xy7!abc', 'length', /8 to 72 bytes \(UTF-8\); got 7/],
    ['73 bytes', 'Xy7!'.repeat(18) + 'q', 'length', /got 73/],
    ['37 two-byte characters (74 bytes)', 'é'.repeat(37), 'length', /got 74/],
    ['eight NUL bytes', '\u0000'.repeat(8), 'control-characters', /control characters/],
    ['a NUL inside', 'correct\u0000horse', 'control-characters', /control characters/],
    ['a tab', 'correct\thorse', 'control-characters', /control characters/],
    ['a newline', 'correct horse\n', 'control-characters', /control characters/],
    ['a C1 control (U+0085)', 'correct\u0085horse', 'control-characters', /control characters/],
    ['DEL', 'correct\u007fhorse', 'control-characters', /control characters/],
    ['"password"', 'password', 'common', /most common/],
    ['"Password123" (any case)', 'Password123', 'common', /most common/],
    ['"qwertyuiop"', 'qwertyuiop', 'common', /most common/],
    ['"iloveyou"', 'iloveyou', 'common', /most common/],
    ['one repeated character', '11111111', 'trivial', /one or two distinct/],
    ['two characters alternating', 'abababab', 'trivial', /one or two distinct/],
    ['a run up', 'abcdefghij', 'trivial', /plain run/],
    ['a run down', '98765432', 'trivial', /plain run/],
    ['a repeated short pattern', 'xyzxyzxyz', 'trivial', /repeats a short pattern/],
    ['the email name', 'jane.doe!2026', 'email', /contains the email name/],
    ['the whole email', 'jane.doe@example.com', 'email', /contains the email name/],
  ])('when the password is %s, then it is refused (%s)', (_label, password, rule, message) => {
    const problem = passwordProblem(password, email);
    expect(problem?.rule).toBe(rule);
    expect(problem?.message).toMatch(message);
  });

  it.each([
    ['a passphrase', 'correct horse battery'],
    ['8 varied bytes', 'Xk7#pQ2m'],
    ['72 bytes', 'correct horse battery staple '.repeat(3).slice(0, 72)],
    ['4 two-byte characters (8 bytes)', 'éàüß'],
    ['emoji', '🐴🔋📎🐎'],
  ])('when the password is %s, then it is accepted', (_label, password) => {
    expect(passwordProblem(password, email)).toBeUndefined();
  });

  it('when no email is known, then only the email rule is skipped', () => {
    expect(passwordProblem('jane.doe!2026')).toBeUndefined();
    expect(passwordProblem('password')?.rule).toBe('common');
  });

  it('when the email name is shorter than four characters, then a password containing it is still accepted', () => {
    expect(passwordProblem('correct horse battery', 'or@example.com')).toBeUndefined();
  });
});
