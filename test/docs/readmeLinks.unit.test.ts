import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../support/childProcesses';

const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const prose = README.replace(/```[\s\S]*?```/g, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
const anchorOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');

describe('README links', () => {
  it('when the README links to one of its own sections, then a heading with that anchor exists', () => {
    const anchors = new Set([...prose.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!)));
    const links = [...new Set([...README.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!))];
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((link) => !anchors.has(link))).toEqual([]);
  });

  it('when the README links to a file of the repository, then the file exists', () => {
    const files = [...new Set([...README.matchAll(/\]\((?!#|https?:)([^)]+)\)/g)].map((m) => m[1]!))];
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((file) => !existsSync(path.join(REPO_ROOT, file)))).toEqual([]);
  });
});
