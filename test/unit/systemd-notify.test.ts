// The notifier's contract without a socket: ordering, failures logged once and ignored, transport
// choice from NOTIFY_SOCKET, STATUS= text, watchdog interval and pings on a manual clock.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { NotifyTransport } from '../../src/systemd/notify-transports.ts';
import { createNotifier, noopNotifier, STATUS_INTERVAL_MS, TransportNotifier } from '../../src/systemd/notify.ts';
import { formatStatusLine } from '../../src/systemd/status-line.ts';
import { startWatchdog, watchdogIntervalMs } from '../../src/systemd/watchdog.ts';
import { ManualClock } from '../support/manual-clock.ts';

function recordingLogger(): Logger & { lines: Array<[string, string]> } {
  const lines: Array<[string, string]> = [];
  const l: Logger & { lines: typeof lines } = {
    lines,
    debug: (_o, m) => lines.push(['debug', m]),
    info: (_o, m) => lines.push(['info', m]),
    warn: (_o, m) => lines.push(['warn', m]),
    error: (_o, m) => lines.push(['error', m]),
    child: () => l,
  };
  return l;
}

describe('TransportNotifier', () => {
  it('sends in call order, one message at a time, even when a send is slow', async () => {
    const sent: string[] = [];
    let inFlight = 0;
    const transport: NotifyTransport = {
      description: 'test',
      async send(lines) {
        inFlight++;
        assert.equal(inFlight, 1);
        await new Promise((r) => setTimeout(r, lines[0] === 'READY=1' ? 20 : 1));
        sent.push(lines.join('\n'));
        inFlight--;
      },
    };
    const n = new TransportNotifier(transport, silentLogger);
    n.ready();
    n.status('1 service,\n0 running');
    n.watchdog();
    n.stopping();
    await n.flush();
    assert.deepEqual(sent, ['READY=1', 'STATUS=1 service, 0 running', 'WATCHDOG=1', 'STOPPING=1']);
  });

  it('logs a failing transport once as a warning, then at debug until it works again', async () => {
    let fail = true;
    const transport: NotifyTransport = {
      description: 'test',
      send: async () => {
        if (fail) throw new Error('ECONNREFUSED');
      },
    };
    const logger = recordingLogger();
    const n = new TransportNotifier(transport, logger);
    n.watchdog();
    await n.flush();
    n.watchdog();
    await n.flush();
    fail = false;
    n.watchdog();
    await n.flush();
    fail = true;
    n.watchdog();
    await n.flush();
    assert.deepEqual(logger.lines, [['warn', 'sd_notify failed, ignoring'], ['debug', 'sd_notify failed again, ignoring'], ['warn', 'sd_notify failed, ignoring']]);
  });
});

describe('TransportNotifier pacing', () => {
  function recording(): NotifyTransport & { sent: string[] } {
    const sent: string[] = [];
    return { description: 'test', sent, send: async (lines) => { sent.push(lines.join('\n')); } };
  }

  it('coalesces a burst of STATUS= lines: the latest wins, at most one send per interval', async () => {
    const clock = new ManualClock();
    const transport = recording();
    const n = new TransportNotifier(transport, silentLogger, clock);
    n.status('starting');
    await clock.settle();
    assert.deepEqual(transport.sent, ['STATUS=starting'], 'the first goes out at once');
    for (let i = 0; i < 1000; i++) n.status(`${i} running`);
    await clock.advance(STATUS_INTERVAL_MS - 1);
    assert.equal(transport.sent.length, 1, 'the burst waits for the interval');
    await clock.advance(1);
    assert.deepEqual(transport.sent, ['STATUS=starting', 'STATUS=999 running']);
    await clock.advance(10 * STATUS_INTERVAL_MS);
    assert.equal(transport.sent.length, 2, 'nothing more to send');
    assert.equal(clock.pendingTimers, 0);
  });

  it('a waiting STATUS= holds back neither WATCHDOG=1 nor STOPPING=1; flush() sends it at once', async () => {
    const clock = new ManualClock();
    const transport = recording();
    const n = new TransportNotifier(transport, silentLogger, clock);
    n.status('a');
    await clock.settle();
    n.status('b');
    n.watchdog();
    n.watchdog();
    n.stopping();
    await clock.settle();
    assert.deepEqual(transport.sent, ['STATUS=a', 'WATCHDOG=1', 'STOPPING=1']);
    n.status('c');
    await n.flush();
    assert.deepEqual(transport.sent, ['STATUS=a', 'WATCHDOG=1', 'STOPPING=1', 'STATUS=c']);
    assert.equal(clock.pendingTimers, 0);
  });

  it('keeps at most one message of each kind waiting behind a slow send', async () => {
    let release!: () => void;
    const sent: string[] = [];
    const transport: NotifyTransport = {
      description: 'slow',
      send: async (lines) => {
        sent.push(lines.join('\n'));
        if (sent.length === 1) await new Promise<void>((r) => { release = r; });
      },
    };
    const clock = new ManualClock();
    const n = new TransportNotifier(transport, silentLogger, clock);
    n.ready();
    await clock.settle();
    for (let i = 0; i < 10_000; i++) {
      n.watchdog();
      n.status(`s${i}`);
    }
    assert.equal((n as unknown as { waiting: unknown[] }).waiting.length, 2, 'the queue stays bounded');
    release();
    await n.flush();
    assert.deepEqual(sent, ['READY=1', 'WATCHDOG=1', 'STATUS=s9999']);
  });
});

describe('createNotifier', () => {
  it('is the no-op without NOTIFY_SOCKET', async () => {
    assert.equal(await createNotifier({}, silentLogger), noopNotifier);
    assert.equal(await createNotifier({ NOTIFY_SOCKET: '' }, silentLogger), noopNotifier);
    noopNotifier.ready();
    await noopNotifier.flush();
  });

  it('uses the addon for a path, systemd-notify for an abstract socket or without the addon', async () => {
    const logger = recordingLogger();
    const addon = { DgramSocket: class { sendTo(): void {} close(): void {} } };
    const describeOf = async (socket: string, loadAddon: () => Promise<typeof addon | undefined>): Promise<string> => {
      const before = logger.lines.length;
      await createNotifier({ NOTIFY_SOCKET: socket }, logger, { loadAddon });
      assert.equal(logger.lines.length, before + 1);
      return (logger.lines.at(-1) ?? ['', ''])[1];
    };
    assert.equal(await describeOf('/run/systemd/notify', async () => addon), 'sd_notify enabled');
    const n1 = await createNotifier({ NOTIFY_SOCKET: '/run/systemd/notify' }, silentLogger, { loadAddon: async () => addon });
    const n2 = await createNotifier({ NOTIFY_SOCKET: '@abstract' }, silentLogger, { loadAddon: async () => addon });
    const n3 = await createNotifier({ NOTIFY_SOCKET: '/run/systemd/notify' }, silentLogger, { loadAddon: async () => undefined });
    const transportOf = (n: unknown): string => (n as { transport: NotifyTransport }).transport.description;
    assert.equal(transportOf(n1), 'node-unix-socket → /run/systemd/notify');
    assert.equal(transportOf(n2), 'systemd-notify → @abstract');
    assert.equal(transportOf(n3), 'systemd-notify → /run/systemd/notify');
  });
});

describe('formatStatusLine', () => {
  it('counts services by state', () => {
    assert.equal(formatStatusLine([{ state: 'ready' }, { state: 'stopped' }, { state: 'stopped' }]), '3 services, 1 running, 0 starting');
    assert.equal(formatStatusLine([{ state: 'starting' }]), '1 service, 0 running, 1 starting');
    assert.equal(formatStatusLine([{ state: 'failed' }, { state: 'stopping' }]), '2 services, 0 running, 0 starting, 1 stopping, 1 failed');
  });
});

describe('watchdog', () => {
  it('pings at half of WATCHDOG_USEC, only for this process', () => {
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 7), 15_000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 7), 15_000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, 7), undefined);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 7), undefined);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }, 7), undefined);
    assert.equal(watchdogIntervalMs({}, 7), undefined);
  });

  it('re-arms one timer per ping and stops', async () => {
    const clock = new ManualClock();
    let pings = 0;
    const w = startWatchdog({ watchdog: () => pings++ }, 15_000, clock);
    await clock.advance(14_999);
    assert.equal(pings, 0);
    await clock.advance(1);
    assert.equal(pings, 1);
    await clock.advance(45_000);
    assert.equal(pings, 4);
    assert.equal(clock.pendingTimers, 1);
    w.stop();
    w.stop();
    await clock.advance(60_000);
    assert.equal(pings, 4);
    assert.equal(clock.pendingTimers, 0);
  });
});
