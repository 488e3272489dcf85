// `npm run docs:generate`: writes the generated documentation (the README's API table and order
// lifecycle diagram, docs/api.http) from the code. `--check` writes nothing and exits 1 when a
// file is out of date.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generate, generatedFiles, REPO_ROOT } from './artefacts';

function main(): number {
  const check = process.argv.includes('--check');
  const stale: string[] = [];
  for (const { file, content } of generatedFiles(generate())) {
    const target = path.join(REPO_ROOT, file);
    const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
    if (current === content) continue;
    stale.push(file);
    if (!check) {
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, content);
    }
  }
  if (check) {
    process.stdout.write(stale.length === 0 ? 'generated docs are up to date\n' : `out of date (run \`npm run docs:generate\`): ${stale.join(', ')}\n`);
    return stale.length === 0 ? 0 : 1;
  }
  process.stdout.write(stale.length === 0 ? 'generated docs were already up to date\n' : `wrote ${stale.join(', ')}\n`);
  return 0;
}

process.exitCode = main();
