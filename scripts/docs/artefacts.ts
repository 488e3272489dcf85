import { readFileSync } from 'node:fs';
import path from 'node:path';
import { orderTransitions } from '../../src/commands/order/orderTransitions';
import { buildApiDocument } from '../../src/infra/http/apiDocument';
import { apiTable } from './apiTable';
import { httpFile } from './httpFile';
import { lifecycleDiagram } from './lifecycleDiagram';
import type { Document } from './openApi';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const README = 'README.md';
export const HTTP_FILE = 'docs/api.http';

/** The README's generated blocks, between `<!-- name:start -->` and `<!-- name:end -->`. */
export const README_BLOCKS = ['api-table', 'order-lifecycle'] as const;
export type ReadmeBlock = (typeof README_BLOCKS)[number];

function markers(name: ReadmeBlock): { start: string; end: string } {
  return { start: `<!-- ${name}:start -->`, end: `<!-- ${name}:end -->` };
}

/** The text between a block's markers (without the blank lines that frame it). */
export function readBlock(text: string, name: ReadmeBlock): string {
  const { start, end } = markers(name);
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${README} has no ${start} … ${end} block`);
  return text.slice(from + start.length, to).replace(/^\n+|\n+$/g, '');
}

export function replaceBlock(text: string, name: ReadmeBlock, content: string): string {
  const { start, end } = markers(name);
  readBlock(text, name);
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  return `${text.slice(0, from + start.length)}\n${content}\n${text.slice(to)}`;
}

/** What the generator makes now, from the code as it is. */
export interface Generated {
  blocks: Record<ReadmeBlock, string>;
  httpFile: string;
}

export function generate(doc: Document = buildApiDocument() as unknown as Document): Generated {
  return {
    blocks: { 'api-table': apiTable(doc), 'order-lifecycle': lifecycleDiagram(orderTransitions) },
    httpFile: httpFile(doc),
  };
}

/** Every generated file with its new content (the README keeps everything outside its blocks). */
export function generatedFiles(generated: Generated, root = REPO_ROOT): Array<{ file: string; content: string }> {
  let readme = readFileSync(path.join(root, README), 'utf8');
  for (const name of README_BLOCKS) readme = replaceBlock(readme, name, generated.blocks[name]);
  return [
    { file: README, content: readme },
    { file: HTTP_FILE, content: generated.httpFile },
  ];
}
