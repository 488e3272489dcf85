import type { Knex } from 'knex';
import { passwordProblem } from '../commands/accounts/passwordPolicy';
import { createUser, type UserDto } from '../commands/accounts/users';
import { CliFailure } from './output';

/** The first admin: the only way to make one, since the HTTP API registers plain users. */
export async function createAdmin(knex: Knex, input: { email: string; password: string }, bcryptRounds: number): Promise<UserDto> {
  // The same policy as every other way of making an account (createUser applies it too).
  const problem = passwordProblem(input.password, input.email);
  if (problem) throw new CliFailure(problem.rule === 'length' ? problem.message : `refusing a weak password: ${problem.message}`);
  return createUser(knex, { email: input.email, password: input.password, role: 'admin' }, { bcryptRounds });
}

/** Reads the password from the first line of stdin, so it stays out of shell history and `ps`. */
export async function readPasswordFromStdin(stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    chunks.push(buffer);
    size += buffer.length;
    // A password is short; stop reading a runaway pipe.
    if (size > 4096 || buffer.includes(10)) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line.length === 0) throw new CliFailure('no password on stdin');
  return line;
}
