/**
 * WarnBudget: one warn line per key per window, the rest at debug; past MAX_KEYS open windows,
 * new keys share one window instead of pushing out open ones (a client taking turns among
 * more sessions than that warned on every message).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '../../../src/observability/logger.js';
import { MAX_KEYS, WarnBudget } from '../../../src/observability/warn-budget.js';

function counting(): { log: Logger; warns: Array<Record<string, unknown>>; debugs: () => number } {
  const warns: Array<Record<string, unknown>> = [];
  let debugs = 0;
  const log = { warn: (f: Record<string, unknown>) => void warns.push(f), debug: () => void debugs++ } as unknown as Logger;
  return { log, warns, debugs: () => debugs };
}

describe('WarnBudget', () => {
  it('one warn line per key per window; the next window’s line counts what went to debug', async () => {
    const { log, warns, debugs } = counting();
    const wb = new WarnBudget(log, 500);
    for (let i = 0; i < 10; i++) wb.warn('a', { i }, 'failed');
    assert.equal(warns.length, 1);
    assert.equal(debugs(), 9);
    await new Promise((r) => setTimeout(r, 550));
    wb.warn('a', {}, 'failed');
    assert.equal(warns.length, 2);
    assert.equal(warns[1].alsoInLastWindow, 9);
  });

  it(`${MAX_KEYS + 1} keys failing in turn: at most one warn line per key in a window, not one per failure`, () => {
    const { log, warns } = counting();
    const wb = new WarnBudget(log);
    for (let round = 0; round < 10; round++) for (let s = 0; s <= MAX_KEYS; s++) wb.warn(`none:o:session${s}`, {}, 'reached no one');
    assert.ok(warns.length <= MAX_KEYS + 1, `${warns.length} warn lines for 10 failures of each of ${MAX_KEYS + 1} keys in one window`);
  });

  it('ended windows make room: a new key past MAX_KEYS gets its own window once old ones have ended', async () => {
    const { log, warns } = counting();
    const wb = new WarnBudget(log, 30);
    for (let s = 0; s < MAX_KEYS; s++) wb.warn(`old${s}`, {}, 'x');
    await new Promise((r) => setTimeout(r, 40));
    wb.warn('new1', {}, 'x');
    wb.warn('new2', {}, 'x');
    assert.equal(warns.length, MAX_KEYS + 2, 'each new key warned in its own window');
  });
});
