// The start-up warning when the open-file limit cannot cover the configured connection limits.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { softOpenFileLimit, warnIfFdLimitLow } from '../../src/daemon/fd-limit.ts';
import type { Logger } from '../../src/core/logger.ts';

const limits = (soft: string): string =>
  `Limit                     Soft Limit           Hard Limit           Units\nMax cpu time              unlimited            unlimited            seconds\nMax open files            ${soft}                524288               files\n`;

function recorder(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = { debug: () => undefined, info: () => undefined, warn: (_o, m) => warnings.push(m), error: () => undefined, child: () => logger };
  return { logger, warnings };
}

describe('open-file limit check', () => {
  it('reads the soft limit from /proc/self/limits', () => {
    assert.equal(softOpenFileLimit(limits('1024')), 1024);
    assert.equal(softOpenFileLimit(limits('unlimited')), undefined);
    const real = softOpenFileLimit(readFileSync('/proc/self/limits', 'utf8'));
    assert.ok(real === undefined || (Number.isInteger(real) && real > 0), 'this machine\'s own limits parse');
  });

  it('warns once, with the numbers and the fix, when maxConnections cannot be reached', () => {
    const { services } = parseConfig('services:\n  web:\n    listen: 8080\n    container: app\n', 't.yaml');
    const { logger, warnings } = recorder();
    warnIfFdLimitLow(services, logger, () => limits('1024'));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /open-file limit \(1024\) is below .* \(8257: two per proxied connection\).*LimitNOFILE=/);
  });

  it('counts the busiest service at its limit, not every service at once: three default services fit in 20,000', () => {
    const { services } = parseConfig('services:\n  a: {listen: 8080, container: a}\n  b: {listen: 8081, container: b}\n  c: {listen: [8082, 8083], container: c}\n', 't.yaml');
    const { logger, warnings } = recorder();
    warnIfFdLimitLow(services, logger, () => limits('20000'));
    assert.deepEqual(warnings, [], 'no service alone can use more than 64 + 4 listeners + 2 × 4096');
    const big = parseConfig('services:\n  a: {listen: 8080, container: a}\n  b: {listen: 8081, container: b, maxConnections: 10000}\n', 't.yaml').services;
    warnIfFdLimitLow(big, logger, () => limits('20000'));
    assert.equal(warnings.length, 1, 'one service allowed 10,000 connections needs 20,066');
    assert.match(warnings[0] ?? '', /\(20066: two per proxied connection\)/);
  });

  it('says nothing when the limit is enough', () => {
    const { services } = parseConfig('services:\n  web:\n    listen: 8080\n    container: app\n    maxConnections: 100\n', 't.yaml');
    const { logger, warnings } = recorder();
    warnIfFdLimitLow(services, logger, () => limits('1024'));
    assert.deepEqual(warnings, []);
  });
});
