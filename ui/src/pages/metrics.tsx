import type { SeriesPoint } from '../api.js';
import { ErrorNote, LineChart, type PageProps } from '../components.js';
import { usePoll } from '../hooks.js';

export function MetricsPage(_: PageProps) {
  const s = usePoll<{ intervalMs: number; points: SeriesPoint[] }>('/metrics/series', 2000);
  const p = s.data?.points ?? [];
  return (
    <section aria-label="Live metrics">
      <ErrorNote error={s.error} />
      <p class="muted">
        Sampled every {(s.data?.intervalMs ?? 2000) / 1000} s by the admin listener from the gateway's metrics (the last {p.length} samples). MCP requests only; the full set is at{' '}
        <code>/metrics</code> on the MCP listener.
      </p>
      <div class="charts">
        <LineChart label="Requests per second" series={[{ name: 'req/s', values: p.map((x) => x.requestsPerSecond), cls: 'c1' }]} />
        <LineChart
          label="Latency"
          unit=" ms"
          series={[
            { name: 'p50', values: p.map((x) => x.p50Ms), cls: 'c1' },
            { name: 'p99', values: p.map((x) => x.p99Ms), cls: 'c2' },
          ]}
        />
        <LineChart label="Errors per second" series={[{ name: 'errors/s', values: p.map((x) => x.errorsPerSecond), cls: 'c3' }]} />
      </div>
    </section>
  );
}
