import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { parseServerConfig, startServer, type RunningServer } from '@nexttap/cli';
import { createLogger } from '@nexttap/observability';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_DIR, MOVIELENS_DIR } from './feed-scenario';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT_DIR = new URL('../reports/', import.meta.url);
const logger = createLogger({ level: 'silent', service: 'demo-page-test' });

describe('demo page markup', () => {
  it('styles only badges that its script adds', async () => {
    const html = await readFile(new URL('../services/ranker/demo/index.html', import.meta.url), 'utf8');
    const [style = '', script = ''] = [/<style>([\s\S]*?)<\/style>/.exec(html)?.[1], /<script>([\s\S]*?)<\/script>/.exec(html)?.[1]];
    const styled = [...style.matchAll(/\.badge\.([a-z-]+)/g)].map((match) => match[1]);
    expect(styled.length).toBeGreaterThan(0);
    for (const kind of styled) {
      expect(script, `.badge.${kind}`).toContain(`class="badge ${kind}"`);
    }
  });
});

describe('demo page', () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing; install the Debian package chromium (apt-get install -y chromium)`);
    }
    const config = parseServerConfig({ PORT: '0', MODEL_DIR, MOVIELENS_DIR, LOG_LEVEL: 'silent', POOL_REFRESH_INTERVAL_MS: '200', LIVE_DEBOUNCE_MS: '20' });
    server = await startServer('all', config, { logger });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('re-orders the feed after a tap', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${server.url}/demo`);
    const items = page.locator('#feed li');
    await expect.poll(() => items.count(), { timeout: 20_000 }).toBe(12);
    const before = await items.evaluateAll((elements) => elements.map((element) => element.getAttribute('data-item-id')));
    const titles = await page.locator('#feed .title').allTextContents();
    expect(titles.every((title) => /\(\d{4}\)$/.test(title.trim()))).toBe(true);

    await items.first().click();
    await expect.poll(() => page.locator('#feed').getAttribute('data-updates'), { timeout: 20_000 }).toBe('2');
    const after = await items.evaluateAll((elements) => elements.map((element) => element.getAttribute('data-item-id')));
    expect(after).not.toContain(before[0]);
    expect(after).not.toEqual(before);

    await mkdir(SCREENSHOT_DIR, { recursive: true });
    await page.screenshot({ path: new URL('demo-page.png', SCREENSHOT_DIR).pathname, fullPage: true });
    await page.close();
  });
});
