/**
 * Recent metric series for the console's charts and sparklines: every `intervalMs` the
 * admin listener reads the metrics registry (the same counters /metrics renders) and keeps
 * the differences — requests/s, errors/s, p50/p99 from the latency histogram, per backend
 * requests, errors and mean latency — for the last `points` samples. Bounded: a ring of
 * `points`, and per sample one entry per configured backend.
 */
import type { Registry } from 'prom-client';

interface Totals {
  requests: number;
  errors: number;
  /** Cumulative histogram counts by upper bound, all series summed. */
  buckets: Map<number, number>;
  backends: Map<string, { requests: number; errors: number; count: number; sum: number }>;
}

export interface SeriesPoint {
  /** ms since the epoch */
  t: number;
  requestsPerSecond: number;
  errorsPerSecond: number;
  /** Latency percentiles of the interval (ms, upper bucket bound); null when nothing was served. */
  p50Ms: number | null;
  p99Ms: number | null;
  backends: Record<string, { requestsPerSecond: number; errorRate: number | null; meanMs: number | null }>;
}

type Sample = { labels: Record<string, string | number | undefined>; value: number; metricName?: string };

async function read(registry: Registry, name: string): Promise<Sample[]> {
  const m = registry.getSingleMetric(name);
  return m ? ((await m.get()).values as Sample[]) : [];
}

async function totals(registry: Registry): Promise<Totals> {
  const t: Totals = { requests: 0, errors: 0, buckets: new Map(), backends: new Map() };
  const of = (b: string) => {
    let x = t.backends.get(b);
    if (!x) t.backends.set(b, (x = { requests: 0, errors: 0, count: 0, sum: 0 }));
    return x;
  };
  for (const v of await read(registry, 'mcpeg_mcp_requests_total')) {
    const failed = v.labels.outcome !== 'ok' && v.labels.outcome !== 'cancelled';
    t.requests += v.value;
    if (failed) t.errors += v.value;
    const b = v.labels.backend;
    if (typeof b === 'string' && b !== '') {
      of(b).requests += v.value;
      if (failed) of(b).errors += v.value;
    }
  }
  for (const v of await read(registry, 'mcpeg_mcp_request_duration_seconds')) {
    const b = typeof v.labels.backend === 'string' && v.labels.backend !== '' ? v.labels.backend : undefined;
    if (v.metricName?.endsWith('_bucket')) {
      const le = v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le);
      t.buckets.set(le, (t.buckets.get(le) ?? 0) + v.value);
    } else if (b && v.metricName?.endsWith('_sum')) of(b).sum += v.value;
    else if (b && v.metricName?.endsWith('_count')) of(b).count += v.value;
  }
  return t;
}

/** The upper bound (ms) of the bucket holding quantile q of the interval's observations. */
function quantile(now: Map<number, number>, before: Map<number, number>, q: number): number | null {
  const bounds = [...now.keys()].sort((a, b) => a - b);
  const total = (now.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  if (total <= 0) return null;
  for (const le of bounds) {
    if ((now.get(le) ?? 0) - (before.get(le) ?? 0) >= q * total) return Number.isFinite(le) ? le * 1000 : null;
  }
  return null;
}

export class RecentSeries {
  private readonly ring: SeriesPoint[] = [];
  private last: { at: number; totals: Totals } | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: () => Registry,
    private readonly backends: () => Iterable<string>,
    readonly intervalMs = 2000,
    readonly points = 150,
  ) {}

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  get series(): readonly SeriesPoint[] {
    return this.ring;
  }

  async sample(): Promise<void> {
    const at = Date.now();
    const now = await totals(this.registry());
    const prev = this.last;
    this.last = { at, totals: now };
    if (!prev) return;
    const secs = Math.max(0.001, (at - prev.at) / 1000);
    const rate = (n: number) => Math.round((Math.max(0, n) / secs) * 100) / 100;
    const backends: SeriesPoint['backends'] = {};
    for (const name of this.backends()) {
      const a = now.backends.get(name) ?? { requests: 0, errors: 0, count: 0, sum: 0 };
      const b = prev.totals.backends.get(name) ?? { requests: 0, errors: 0, count: 0, sum: 0 };
      const req = a.requests - b.requests;
      const count = a.count - b.count;
      backends[name] = {
        requestsPerSecond: rate(req),
        errorRate: req > 0 ? Math.round(((a.errors - b.errors) / req) * 1000) / 1000 : null,
        meanMs: count > 0 ? Math.round(((a.sum - b.sum) / count) * 1e5) / 100 : null,
      };
    }
    this.ring.push({
      t: at,
      requestsPerSecond: rate(now.requests - prev.totals.requests),
      errorsPerSecond: rate(now.errors - prev.totals.errors),
      p50Ms: quantile(now.buckets, prev.totals.buckets, 0.5),
      p99Ms: quantile(now.buckets, prev.totals.buckets, 0.99),
      backends,
    });
    if (this.ring.length > this.points) this.ring.splice(0, this.ring.length - this.points);
  }
}
