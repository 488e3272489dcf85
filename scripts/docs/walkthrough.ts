// The README's "Your first order in five minutes", as the shell steps a reader pastes. A step is a
// ```sh block right after a `<!-- walkthrough -->` marker; `until="text"` says the step leaves a
// process running in the background and is done once its output shows that text.
// `npx tsx scripts/docs/walkthrough.ts` prints them as one script.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const WALKTHROUGH_HEADING = '## Your first order in five minutes';

export interface WalkthroughStep {
  code: string;
  /** Output that shows a background process of this step is ready. */
  until?: string;
}

/** The marked shell blocks of the walkthrough section, in order; throws when the section is missing. */
export function walkthroughSteps(markdown: string): WalkthroughStep[] {
  const start = markdown.indexOf(`\n${WALKTHROUGH_HEADING}\n`);
  if (start < 0) throw new Error(`README has no "${WALKTHROUGH_HEADING}" section`);
  const end = markdown.indexOf('\n## ', start + WALKTHROUGH_HEADING.length + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const steps: WalkthroughStep[] = [];
  for (const match of section.matchAll(/<!-- walkthrough(?: until="([^"]+)")? -->\n```sh\n([\s\S]*?)```/g)) {
    steps.push({ code: match[2]!, ...(match[1] ? { until: match[1] } : {}) });
  }
  return steps;
}

if (require.main === module) {
  const readme = readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
  process.stdout.write(walkthroughSteps(readme).map((step) => step.code).join('\n'));
}
