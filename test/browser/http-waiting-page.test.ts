// The HTTP router's waiting page in headless Chromium (Debian's /usr/bin/chromium via playwright-core)
// against a real container whose app listens a few seconds after it starts: the page shows the
// service and then turns into the app's own page by itself — with JavaScript (its poll) and
// without (its meta refresh).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { freePort, httpdCmd, startDaemon } from '../support/daemon-harness.ts';
import { createContainer, ensureImage, getEngine } from '../support/engine.ts';

const CHROMIUM = process.env.PORTWAKE_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI !== undefined) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);

describe('HTTP waiting page in Chromium', { skip: missing ? `${CHROMIUM} not installed (apt-get install -y chromium)` : false }, () => {
  let browser: Browser;
  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  });
  after(async () => {
    await browser?.close();
  });

  async function coldService(t: TestContext, hint: string): Promise<{ url: string }> {
    const engine = await getEngine();
    const image = await ensureImage('busybox');
    // The app listens 4 s after its container starts.
    const c = await createContainer(engine, { image, cmd: httpdCmd({ delayS: 4 }), expose: [80], nameHint: hint, stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    const port = await freePort();
    await startDaemon(t, engine, [
      `http: {listen: "127.0.0.1:${port}"}`,
      'services:',
      `  slow-app: {hosts: [localhost], container: ${c.name}, port: 80}`,
      '',
    ].join('\n'));
    return { url: `http://localhost:${port}/` };
  }

  for (const javaScript of [true, false]) {
    it(`shows the waiting page, then the app's page by itself (JavaScript ${javaScript ? 'on' : 'off'})`, async (t) => {
      const { url } = await coldService(t, `wait-page-${javaScript ? 'js' : 'nojs'}`);
      const context = await browser.newContext({ javaScriptEnabled: javaScript });
      t.after(() => context.close());
      const page = await context.newPage();
      const response = await page.goto(url);
      assert.equal(response?.status(), 503);
      assert.match(await page.title(), /^Starting slow-app…$/);
      assert.match(await page.locator('main').innerText(), /Waiting for slow-app to become ready: \d+ s/);
      // No request leaves for anything but the page itself (no external assets).
      const elsewhere: string[] = [];
      page.on('request', (r) => { if (!r.url().startsWith(url)) elsewhere.push(r.url()); });
      // The app's index.html says hello-from-<its container id>.
      await page.waitForFunction('document.body.innerText.startsWith("hello-from-")', undefined, { timeout: 60_000, polling: 200 })
        .catch(async (err: unknown) => assert.fail(`the page did not turn into the app's: ${String(err)}; it shows: ${await page.locator('body').innerText()}`));
      assert.deepEqual(elsewhere, []);
    });
  }
});
