import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

const files = sourceFiles(SRC).map((file) => ({ file: path.relative(SRC, file), text: readFileSync(file, 'utf8') }));

/** Files in src/infra that may call the application: the composition root and the driving adapters (HTTP routes, sockets). */
const drivingAdapters = [/^infra\/runtime\.ts$/, /^infra\/deps\.ts$/, /^infra\/http\/routes\//, /^infra\/http\/commandAnswer\.ts$/, /^infra\/socket\/socketServer\.ts$/];

describe('module boundaries', () => {
  it('when src/infra imports application code, then only from the composition root and the driving adapters', () => {
    const offenders = files
      .filter(({ file }) => file.startsWith('infra/') && !drivingAdapters.some((allowed) => allowed.test(file)))
      .filter(({ text }) => /from '(\.\.\/)+(commands|projections|queries)\//.test(text))
      .map(({ file }) => file);
    expect(offenders).toEqual([]);
  });

  it('when a stream name is built or read, then the order stream prefix is spelled in one place', () => {
    const spelled = files.flatMap(({ file, text }) => (text.match(/(['"`])order-(\1|\$\{)/g) ?? []).map(() => file));
    expect(spelled).toEqual(['events/codec.ts']);
  });

  it('when checkpoints are read or written, then the SQL is in the singleton subscriber alone', () => {
    const naming = files.filter(({ file, text }) => !file.startsWith('infra/db/migrations') && text.includes('projection_checkpoints')).map(({ file }) => file);
    expect(naming).toEqual(['infra/eventstore/singletonSubscriber.ts']);
  });
});
