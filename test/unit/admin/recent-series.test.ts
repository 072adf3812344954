/** The console's metric series: rates and latency percentiles of each interval, from the same series /metrics renders. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { RecentSeries } from '../../../src/admin/recent-series.js';
import { CounterSeries, HistogramSeries } from '../../../src/observability/series.js';

describe('RecentSeries', () => {
  it('gives requests/s, errors/s, p50/p99 and per-backend rates of each interval only', async () => {
    const registry = new Registry();
    const total = new CounterSeries({ name: 'mcpeg_mcp_requests_total', help: 'x', labelNames: ['method', 'backend', 'tool', 'outcome'], registry });
    const duration = new HistogramSeries({
      name: 'mcpeg_mcp_request_duration_seconds',
      help: 'x',
      labelNames: ['method', 'backend', 'tool'],
      buckets: [0.001, 0.01, 0.1, 1],
      registry,
    });
    // Before the first sample: a slow request that must not count in the interval.
    total.labels('tools/call', 'a', 't', 'ok').inc();
    duration.labels('tools/call', 'a', 't').observe(0.5);
    const s = new RecentSeries(
      () => registry,
      () => ['a', 'b'],
      1000,
      3,
    );
    await s.sample();
    assert.equal(s.series.length, 0, 'the first sample is the baseline');
    for (let i = 0; i < 98; i++) {
      total.labels('tools/call', 'a', 't', 'ok').inc();
      duration.labels('tools/call', 'a', 't').observe(0.005);
    }
    total.labels('tools/call', 'b', 'u', 'error').inc();
    duration.labels('tools/call', 'b', 'u').observe(0.05);
    total.labels('tools/call', 'b', 'u', 'ok').inc();
    duration.labels('tools/call', 'b', 'u').observe(0.05);
    await s.sample();
    const [p] = s.series;
    assert.ok(p.requestsPerSecond > 0);
    assert.equal(p.p50Ms, 10, 'half of the 100 requests of the interval took at most 10 ms');
    assert.equal(p.p99Ms, 100, 'the 99th took at most 100 ms (the 0.5 s one was before the interval)');
    assert.equal(p.backends.b.errorRate, 0.5);
    assert.equal(p.backends.a.errorRate, 0);
    assert.equal(p.backends.a.meanMs, 5);
    assert.equal(p.backends.b.meanMs, 50);
    await s.sample();
    assert.equal(s.series[1].requestsPerSecond, 0);
    assert.equal(s.series[1].p50Ms, null, 'no requests, no percentile');
    assert.equal(s.series[1].backends.a.errorRate, null);
    await s.sample();
    await s.sample();
    assert.equal(s.series.length, 3, 'bounded');
  });
});
