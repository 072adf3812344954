/**
 * The allocation-free series (src/observability/series.ts) render at /metrics exactly as
 * prom-client's own Counter and Histogram do for the same observations, bucket
 * boundaries, label order and escaping included; LabelCache finds the same series again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { LabelCache } from '../../../src/observability/label-cache.js';
import { CounterSeries, HistogramSeries } from '../../../src/observability/series.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const OBS: Array<[string, string, string, number]> = [
  ['tools/call', 'api', 'echo', 0.0004],
  ['tools/call', 'api', 'echo', 0.0005],
  ['tools/call', 'api', 'echo', 0.003],
  ['tools/list', '', '', 0.02],
  ['tools/call', 'b"q\\x', 'line\nbreak', 75],
  ['tools/call', 'api', 'echo', 1],
];

describe('series', () => {
  it('a counter renders as prom-client renders its own', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const labelNames = ['method', 'backend', 'tool', 'outcome'];
    const a = new CounterSeries({ name: 'x_total', help: 'help "text"\\', labelNames, registry: ours });
    const b = new Counter({ name: 'x_total', help: 'help "text"\\', labelNames, registers: [theirs] });
    for (const [m, be, t] of OBS) {
      a.labels(m, be, t, 'ok').inc();
      b.inc({ method: m, backend: be, tool: t, outcome: 'ok' });
    }
    a.labels('ping', '', '', 'error').inc(3);
    b.inc({ method: 'ping', backend: '', tool: '', outcome: 'error' }, 3);
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
  });

  it('a histogram renders as prom-client renders its own', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const labelNames = ['method', 'backend', 'tool'];
    const a = new HistogramSeries({ name: 'd_seconds', help: 'durations', labelNames, buckets: BUCKETS, registry: ours });
    const b = new Histogram({ name: 'd_seconds', help: 'durations', labelNames, buckets: BUCKETS, registers: [theirs] });
    for (const [m, be, t, v] of OBS) {
      a.labels(m, be, t).observe(v);
      b.observe({ method: m, backend: be, tool: t }, v);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON(), 'get(): each sample with all its labels (the admin API reads them)');
  });

  it('reset (Registry.resetMetrics) forgets every series', async () => {
    const r = new Registry();
    const c = new CounterSeries({ name: 'y_total', help: 'h', labelNames: ['k'], registry: r });
    const before = c.labels('v');
    before.inc();
    r.resetMetrics();
    assert.doesNotMatch(await r.metrics(), /y_total\{/);
    assert.notEqual(c.labels('v'), before);
    c.labels('v').inc();
    assert.match(await r.metrics(), /y_total\{k="v"\} 1/);
  });
});

describe('LabelCache', () => {
  it('one value per label set, made once, for each depth', () => {
    for (const depth of [1, 2, 3, 4]) {
      let made = 0;
      const cache = new LabelCache(depth, (v) => ({ v, n: ++made }));
      const key = ['a', 'b', 'c', 'd'];
      const first = cache.get(key[0], key[1], key[2], key[3]);
      assert.deepEqual(first.v, key.slice(0, depth));
      assert.equal(cache.get(key[0], key[1], key[2], key[3]), first);
      assert.notEqual(cache.get('z', key[1], key[2], key[3]), first);
      if (depth > 1) assert.notEqual(cache.get(key[0], 'z', key[2], key[3]), first);
      assert.equal(made, depth > 1 ? 3 : 2);
    }
  });

  it('keys are compared as strings in Maps: no prototype names, no collisions by concatenation', () => {
    const cache = new LabelCache(2, (v) => v.join('|'));
    assert.equal(cache.get('__proto__', 'constructor'), '__proto__|constructor');
    assert.notEqual(cache.get('a,b', 'c'), cache.get('a', 'b,c'));
  });
});
