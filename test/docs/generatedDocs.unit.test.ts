import { readFileSync } from 'node:fs';
import path from 'node:path';
import { orderPlacement, orderTransitions } from '../../src/commands/order/orderTransitions';
import { buildApiDocument } from '../../src/infra/http/apiDocument';
import { generate, HTTP_FILE, README, readBlock, REPO_ROOT, type Generated } from '../../scripts/docs/artefacts';
import { accessOf, operationsOf, type Document } from '../../scripts/docs/openApi';

const read = (file: string): string => readFileSync(path.join(REPO_ROOT, file), 'utf8');
const STALE = 'out of date: run `npm run docs:generate` and commit the result';

let doc: Document;
let generated: Generated;

beforeAll(() => {
  doc = buildApiDocument() as unknown as Document;
  generated = generate(doc);
});

describe('generated documentation is committed as generated', () => {
  it('when the README API table is compared with the table generated from the OpenAPI document, then they are equal', () => {
    expect({ block: readBlock(read(README), 'api-table'), hint: STALE }).toEqual({ block: generated.blocks['api-table'], hint: STALE });
  });

  it("when the README order lifecycle is compared with the diagram generated from the decider's transition table, then they are equal", () => {
    expect({ block: readBlock(read(README), 'order-lifecycle'), hint: STALE }).toEqual({ block: generated.blocks['order-lifecycle'], hint: STALE });
  });

  it('when docs/api.http is compared with the requests generated from the OpenAPI document, then they are equal', () => {
    expect({ file: read(HTTP_FILE), hint: STALE }).toEqual({ file: generated.httpFile, hint: STALE });
  });
});

describe('the API table', () => {
  it('when read back, then it has one row per operation of the document with its method, path and access', () => {
    const rows = [...generated.blocks['api-table'].matchAll(/^\| `(\w+)` \| `([^`]+)` \| (\w+) \|/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    const operations = operationsOf(doc).map((op) => `${op.method.toUpperCase()} ${op.path} ${accessOf(op)}`);
    expect(rows).toEqual(operations);
    expect(operations.length).toBeGreaterThanOrEqual(25);
    expect(rows).toEqual(expect.arrayContaining(['POST /products admin', 'GET /products optional', 'POST /orders user', 'POST /auth/login public']));
  });
});

describe('the lifecycle diagram', () => {
  it('when its arrows and loops are read back, then they are exactly the transition table and the placement', () => {
    const lines = generated.blocks['order-lifecycle'].split('\n');
    const drawn: string[] = [];
    for (const line of lines) {
      const arrow = /^ {4}(\[\*\]|\w+) --> (\w+|\[\*\]): (.+)$/.exec(line);
      if (arrow) for (const text of arrow[3]!.split('<br/>')) drawn.push(`${arrow[1]} -> ${arrow[2]}: ${text}`);
      const box = /^ {4}(\w+): \1<br\/>(.+)$/.exec(line);
      if (box) for (const text of box[2]!.split('<br/>')) drawn.push(`${box[1]} -> ${box[1]}: ${text.replace(/^↻ /, '')}`);
    }
    const described = (t: (typeof orderTransitions)[number]): string => (t.when && t.source === 'request' ? `${t.action} (${t.when})` : t.action);
    const table = [`[*] -> ${orderPlacement.to}: ${orderPlacement.action}`, ...orderTransitions.map((t) => `${t.from} -> ${t.to}: ${described(t)}`)];
    expect([...drawn].sort()).toEqual([...table].sort());
  });
});

describe('docs/api.http', () => {
  const requests = (): Array<{ title: string; lines: string[] }> =>
    generated.httpFile
      .split(/^### /m)
      .slice(1)
      .map((chunk) => {
        const [title, ...lines] = chunk.split('\n');
        return { title: title!, lines };
      });

  it('when read back, then it holds one request per operation, with the token its access needs', () => {
    const seen = requests().map(({ lines }) => {
      const requestLine = lines.find((line) => /^[A-Z]+ \{\{baseUrl\}\}/.test(line))!;
      const [method, url] = requestLine.split(' ');
      const auth = lines.find((line) => line.startsWith('Authorization: '));
      return `${method} ${url!.replace('{{baseUrl}}', '').replace(/\?.*$/, '')} ${auth ?? '-'}`;
    });
    const expected = operationsOf(doc).map((op) => {
      const access = accessOf(op);
      const auth = access === 'user' ? 'Authorization: Bearer {{token}}' : access === 'admin' ? 'Authorization: Bearer {{adminToken}}' : '-';
      // A path's own id is named after its collection; a nested one (refundId, returnId) keeps its name.
      return `${op.method.toUpperCase()} ${op.path.replace(/\{id\}/, (_m) => '{{ID}}').replace(/\{(\w+Id)\}/g, (_m, name: string) => `{{${name}}}`)} ${auth}`;
    });
    // Each id is the placeholder its example needs (an order awaiting payment, a paid one…).
    // A nested id's placeholder names the state it needs too (failedRefundId, approvedReturnId).
    const normalised = seen.map((s) =>
      s.replace(/\{\{\w*(order|Order|product|Product|user)Id\}\}/, '{{ID}}').replace(/\{\{\w+(Refund|Return)Id\}\}/g, (_m, kind: string) => `{{${kind.toLowerCase()}Id}}`),
    );
    expect(normalised).toEqual(expected);
  });

  it('when a request uses a variable, then the file declares it; every JSON body parses', () => {
    const declared = new Set([...generated.httpFile.matchAll(/^@(\w+) = /gm)].map((m) => m[1]));
    const used = new Set([...generated.httpFile.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]));
    expect([...used].filter((name) => !declared.has(name))).toEqual([]);
    for (const { title, lines } of requests()) {
      const blank = lines.indexOf('');
      const body = blank < 0 ? '' : lines.slice(blank + 1).join('\n').trim();
      if (body) expect({ title, body: JSON.parse(body) as unknown }).toEqual({ title, body: expect.anything() });
    }
  });
});
