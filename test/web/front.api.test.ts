import { gzipSync } from 'node:zlib';
import { startTestApp, type TestApp } from '../support/apiHarness';

/** How the API serves the built front (globalSetup builds dist/web before any test runs). */

const errorCode = (res: { body: unknown }): string | undefined => (res.body as { error?: { code?: string } }).error?.code;

function assetsOf(html: string): { script: string; stylesheet: string } {
  const script = /<script type="module" src="(\/assets\/app-[A-Za-z0-9]+\.js)"><\/script>/.exec(html)?.[1];
  const stylesheet = /<link rel="stylesheet" href="(\/assets\/app-[A-Za-z0-9]+\.css)">/.exec(html)?.[1];
  if (!script || !stylesheet) throw new Error(`index.html does not load the bundle: ${html}`);
  return { script, stylesheet };
}

describe('web front served by the API', () => {
  let app: TestApp;
  let html: string;
  beforeAll(async () => {
    app = await startTestApp();
    html = (await app.request.get('/')).text;
  });
  afterAll(async () => {
    await app.stop();
  });

  it('when / is fetched, then the page comes with a CSP that allows only this origin and no inline script', async () => {
    const res = await app.request.get('/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    const csp = res.headers['content-security-policy'] as string;
    const directives = Object.fromEntries(
      csp
        .split(';')
        .map((part) => part.trim().split(/\s+/))
        .map(([name, ...values]) => [name, values.join(' ')]),
    );
    expect(directives).toEqual({
      'default-src': "'self'",
      'script-src': "'self'",
      'style-src': "'self'",
      'img-src': "'self' data:",
      'connect-src': "'self'",
      'font-src': "'self'",
      'object-src': "'none'",
      'base-uri': "'none'",
      'form-action': "'self'",
      'frame-ancestors': "'none'",
    });
    expect(res.text).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(res.text).not.toMatch(/\sstyle=/);
  });

  it('when the bundle is fetched, then it is cached for good and its JavaScript is under 80 kB gzipped', async () => {
    const { script, stylesheet } = assetsOf(html);
    const js = await app.request.get(script);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.text.length).toBeGreaterThan(10_000);
    expect(gzipSync(Buffer.from(js.text), { level: 9 }).length).toBeLessThan(80 * 1024);
    const css = await app.request.get(stylesheet);
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });

  it('when a path is neither a file of the front nor an API route, then the JSON 404 answers as before', async () => {
    for (const path of ['/nope', '/assets/app-MISSING.js', '/index.htm', '/orders/x/y/z']) {
      const res = await app.request.get(path);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(errorCode(res)).toBe('ROUTE_NOT_FOUND');
    }
    const post = await app.request.post('/').send({});
    expect(post.status).toBe(404);
    expect(errorCode(post)).toBe('ROUTE_NOT_FOUND');
  });

  it('when an API route is called, then it still answers JSON with the API headers', async () => {
    const res = await app.request.get('/orders');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain("frame-ancestors 'none'");
  });
});

describe('web front and the global rate limit', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ RATE_LIMIT_MAX: '3' });
  });
  afterAll(async () => {
    await app.stop();
  });

  it('when the front is loaded many times, then its files spend none of the budget, while other paths still count', async () => {
    const html = (await app.request.get('/')).text;
    const { script, stylesheet } = assetsOf(html);
    for (let round = 0; round < 5; round++) {
      for (const path of ['/', script, stylesheet, '/favicon.svg']) expect((await app.request.get(path)).status).toBe(200);
    }
    for (let i = 0; i < 3; i++) expect((await app.request.get('/products')).status).toBe(200);
    const limited = await app.request.get('/products');
    expect(limited.status).toBe(429);
    // A path outside the build is not a free pass.
    expect((await app.request.get('/assets/app-MISSING.js')).status).toBe(429);
    expect((await app.request.get(script)).status).toBe(200);
  });
});
