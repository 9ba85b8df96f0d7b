// The dashboard in headless Chromium (Debian's /usr/bin/chromium via playwright-core) against a control
// server backed by a fake DaemonControl: renders, follows live events, posts start/stop, fits a
// phone, works dark, asks for the token. Screenshots go to a temp dir (PORTWAKE_SCREENSHOTS to pick).
// Page-side code is passed as strings: the tsconfig has no DOM lib.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ContainerExitedError } from '../../src/core/errors.ts';
import type { DaemonEvent } from '../../src/core/status.ts';
import { FakeDaemonControl, service } from '../support/fake-daemon-control.ts';
import { startHarness, type Harness } from '../support/control-harness.ts';

const CHROMIUM = process.env.PORTWAKE_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const missing = !existsSync(CHROMIUM);
// CI must have it (apt-get install chromium); a developer without it gets a visible skip.
if (missing && process.env.CI !== undefined) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);

const NOW = Date.now();
const MIN = 60_000;

function fixture(): FakeDaemonControl {
  return new FakeDaemonControl([
    service('web', { container: 'nginx-web', listeners: ['0.0.0.0:8080', 'unix:/run/portwake/web.sock'], lastActivity: NOW - 42 * MIN,
      bytesIn: 48_213, bytesOut: 3_912_004, lastStart: { at: NOW - 50 * MIN, containerStartMs: 420, readinessMs: 1380, startedByUs: true } }),
    service('postgres', { container: 'pg16', state: 'ready', listeners: ['127.0.0.1:5432'], openConnections: 7, heldConnections: 0,
      bytesIn: 9_400_000, bytesOut: 122_000_000, lastActivity: NOW - 3000, idleDeadline: NOW + 14 * MIN }),
    service('grafana', { container: 'grafana', state: 'failed', listeners: ['127.0.0.1:3000'], lastActivity: NOW - 6 * MIN,
      lastError: 'container "grafana" not ready after 1m (last probe: HTTP 502 from /api/health)', lastErrorCode: 'READY_TIMEOUT' }),
  ]);
}

/** Cold-start history, as the daemon would have emitted it before the page was opened. */
function history(control: FakeDaemonControl): void {
  const runs: [string, number, number][] = [['web', 380, 1200], ['web', 450, 1500], ['web', 410, 900], ['web', 600, 2400], ['web', 420, 1380],
    ['postgres', 900, 2100], ['postgres', 850, 1900], ['postgres', 1200, 3300]];
  runs.forEach(([name, c, r], i) => {
    const at = NOW - (runs.length - i) * 30 * MIN;
    const event: DaemonEvent = { type: 'activated', service: name, timings: { at, containerStartMs: c, readinessMs: r, startedByUs: true }, firstWaitMs: c + r + 40, at: at + c + r };
    control.emit(event);
  });
}

describe('dashboard in Chromium', { skip: missing ? `${CHROMIUM} not installed (apt-get install -y chromium)` : false }, () => {
  let context: BrowserContext;
  let profile: string;
  let shots: string;

  before(async () => {
    profile = await mkdtemp(join(tmpdir(), 'portwake-chromium-'));
    shots = process.env.PORTWAKE_SCREENSHOTS ?? await mkdtemp(join(tmpdir(), 'portwake-shots-'));
    await mkdir(shots, { recursive: true });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1280, height: 860 },
    });
  });
  after(async () => {
    await context?.close();
    await rm(profile, { recursive: true, force: true });
  });

  async function open(t: TestContext, h: Harness, viewport = { width: 1280, height: 860 }): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage();
    t.after(() => page.close());
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
    await page.setViewportSize(viewport);
    await page.goto(`http://${h.server.address}/`);
    return { page, errors };
  }

  async function shot(t: TestContext, page: Page, name: string): Promise<void> {
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    t.diagnostic(`screenshot: ${path}`);
  }

  it('shows every service and follows a state change live', async (t) => {
    const h = await startHarness(t, { control: fixture(), heartbeatMs: 1000 });
    history(h.control);
    const { page, errors } = await open(t, h);
    await page.waitForSelector('#live[data-live="live"]');
    await page.waitForSelector('.card[data-service="web"][data-state="stopped"]');
    assert.equal(await page.locator('.card').count(), 3);
    assert.equal(await page.textContent('.card[data-service="web"] .state'), 'stopped');
    assert.equal(await page.locator('.card[data-service="web"] svg rect').count(), 10, 'five cold starts, two bars each');
    assert.match(await page.textContent('.card[data-service="grafana"] .error') ?? '', /READY_TIMEOUT.*not ready after 1m/);
    assert.match(await page.textContent('.card[data-service="postgres"] .stats') ?? '', /7 open/);
    await shot(t, page, '1-desktop-before');

    h.control.setState('web', 'starting');
    await page.waitForSelector('.card[data-service="web"][data-state="starting"]');
    h.control.get('web').openConnections = 1;
    h.control.emit({ type: 'activated', service: 'web', timings: { at: Date.now() - 1500, containerStartMs: 350, readinessMs: 1150, startedByUs: true }, firstWaitMs: 1520, at: Date.now() });
    h.control.setState('web', 'ready');
    h.control.emit({ type: 'connection', service: 'web', change: 'open', at: Date.now() });
    await page.waitForSelector('.card[data-service="web"][data-state="ready"]');
    assert.equal(await page.textContent('.card[data-service="web"] .state'), 'ready');
    assert.match(await page.textContent('.card[data-service="web"] .stats') ?? '', /1 open/);
    await page.waitForFunction(`document.querySelectorAll('.card[data-service="web"] svg rect').length === 12`);
    assert.equal(await page.isDisabled('.card[data-service="web"] button.primary'), true, 'Start is off while ready');
    assert.equal(await page.textContent('#count-ready b'), '2');
    await shot(t, page, '2-desktop-after');
    assert.deepEqual(errors, []);
  });

  it('starts and stops from the buttons', async (t) => {
    const h = await startHarness(t, { control: fixture() });
    const { page, errors } = await open(t, h);
    await page.waitForSelector('#live[data-live="live"]');
    await page.click('.card[data-service="postgres"] button:not(.primary)');
    await page.waitForSelector('.card[data-service="postgres"][data-state="stopped"]');
    await page.waitForSelector('.toast');
    await page.click('.card[data-service="web"] button.primary');
    await page.waitForSelector('.card[data-service="web"][data-state="ready"]');
    assert.deepEqual(h.control.calls, ['stop postgres', 'start web']);

    h.control.startImpl = async () => { throw new ContainerExitedError('grafana', 3); };
    await page.click('.card[data-service="grafana"] button.primary');
    await page.waitForSelector('.toast.bad');
    assert.match(await page.textContent('.toast.bad') ?? '', /grafana: container "grafana" exited during start with code 3/);
    assert.deepEqual(errors.filter((e) => !/status of 502/.test(e)), [], 'only the browser noting the 502');
  });

  it('fits a phone, in light and dark', async (t) => {
    const h = await startHarness(t, { control: fixture() });
    history(h.control);
    const { page, errors } = await open(t, h, { width: 390, height: 844 });
    await page.waitForSelector('#live[data-live="live"]');
    await page.waitForSelector('.card[data-service="web"]');
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'no horizontal scrolling on a phone');
    const box = await page.locator('.card[data-service="web"] button.primary').boundingBox();
    assert.ok(box !== null && box.height >= 40, 'buttons are thumb-sized');
    await shot(t, page, '3-phone-light');
    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    assert.equal(bg, 'rgb(15, 18, 23)', 'dark palette from prefers-color-scheme');
    await shot(t, page, '4-phone-dark');
    await page.setViewportSize({ width: 1280, height: 860 });
    await shot(t, page, '5-desktop-dark');
    assert.deepEqual(errors, []);
  });

  it('asks for the token once and then streams with it', async (t) => {
    const h = await startHarness(t, { control: fixture(), token: 'hunter2-hunter2' });
    const { page, errors } = await open(t, h);
    await page.waitForSelector('#token-dialog[open]');
    await shot(t, page, '6-token-dialog');
    await page.fill('#token-dialog input', 'hunter2-hunter2');
    await page.click('#token-dialog button[type=submit]');
    await page.waitForSelector('.card[data-service="web"][data-state="stopped"]');
    await page.waitForSelector('#live[data-live="live"]');
    h.control.setState('web', 'ready');
    await page.waitForSelector('.card[data-service="web"][data-state="ready"]');
    await page.reload();
    await page.waitForSelector('.card[data-service="web"]');
    assert.equal(await page.isVisible('#token-dialog'), false, 'kept in sessionStorage: asked once');
    // The failed requests before the token was given are the browser's 401 console lines, nothing else.
    assert.deepEqual(errors.filter((e) => !/401/.test(e)), []);
  });
});
