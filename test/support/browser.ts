import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

/** Debian's chromium; Playwright's own browser download cannot work on these machines. */
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  browser: Browser;
  userDataDir: string;
  /** Closes the browser, removes its profile, and fails if any process of it is still alive. */
  close(): Promise<void>;
}

/** Processes whose command line names this profile folder: the browser and every child it started. */
export function processesUsing(userDataDir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(userDataDir)) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/**
 * One headless Chromium with exactly the flags above and a fresh profile. Playwright's defaults are
 * switched off (ignoreDefaultArgs); it still needs its pipe and no startup window.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} is missing: apt-get install -y chromium (.ci/run does it)`);
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'ol-chromium-'));
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      ignoreDefaultArgs: true,
      args: [...CHROMIUM_FLAGS, `--user-data-dir=${userDataDir}`, '--remote-debugging-pipe', '--no-startup-window'],
      timeout: 30_000,
    });
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    browser,
    userDataDir,
    async close() {
      await browser.close().catch(() => undefined);
      // Chromium's helpers exit just after the browser: wait (bounded) before judging.
      const deadline = Date.now() + 10_000;
      while (processesUsing(userDataDir).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const left = processesUsing(userDataDir);
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await rm(userDataDir, { recursive: true, force: true });
      if (left.length > 0) throw new Error(`chromium processes outlived browser.close(): ${left.join(', ')}`);
    },
  };
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

interface AxeResultShape {
  violations: Array<{ id: string; impact?: string | null; help: string; nodes: Array<{ target: unknown[] }> }>;
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core in the page against WCAG 2.1 A/AA and best practices; returns the serious and critical
 * violations. The script goes in through the DevTools protocol, so the page's CSP stays in force.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const result = await page.evaluate<AxeResultShape>(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }, resultTypes: ['violations'] })`,
  );
  return result.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({ id: violation.id, impact: violation.impact ?? null, help: violation.help, targets: violation.nodes.map((node) => node.target.join(' ')) }));
}

/** Waits until the locator's text matches, through Playwright's own polling (no fixed sleeps); the page's default timeout bounds it. */
export async function textOf(locator: Locator, expected: string | RegExp): Promise<void> {
  await locator.filter({ hasText: expected }).first().waitFor({ state: 'visible' });
}
