import { accessOf, operationsOf, type Document } from './openApi';

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

/** Every operation of the OpenAPI document as a Markdown table: method, path, who may call it, what it does. */
export function apiTable(doc: Document): string {
  const rows = operationsOf(doc).map(
    (op) => `| \`${op.method.toUpperCase()}\` | \`${op.path}\` | ${accessOf(op)} | ${cell(op.operation.summary ?? '')} |`,
  );
  return [
    'Who: **public** needs no token; **optional** answers anyone and more with a token; **user** needs a',
    "signed-in account (orders: the owner's, or any for an admin); **admin** needs the admin role.",
    '',
    '| method | path | who | what it does |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
