import { useState } from 'preact/hooks';
import { api, type ApiError, type LbBackend, type SeriesPoint, type Service } from '../api.js';
import { EmptyRow, ErrorNote, fmt, type PageProps, Sparkline, StateBadge } from '../components.js';
import { usePoll } from '../hooks.js';

export function BackendsPage({ me }: PageProps) {
  const services = usePoll<{ services: Service[] }>('/services', 2000);
  const lb = usePoll<{ backends: LbBackend[] }>('/loadbalancer/stats', 2000);
  const series = usePoll<{ points: SeriesPoint[] }>('/metrics/series', 2000);
  const [actionError, setActionError] = useState<ApiError>();
  const [note, setNote] = useState<string>();
  const reset = async (name: string) => {
    setActionError(undefined);
    try {
      await api('POST', `/loadbalancer/reset/${encodeURIComponent(name)}`);
      setNote(`Breakers of ${name} closed.`);
      lb.reload();
    } catch (e) {
      setActionError(e as ApiError);
    }
  };
  const points = series.data?.points ?? [];
  const lbOf = (name: string) => lb.data?.backends.find((b) => b.name === name);
  return (
    <section aria-label="Backends">
      <ErrorNote error={services.error ?? lb.error ?? actionError} />
      {note && (
        <p role="status" class="ok">
          {note}
        </p>
      )}
      <table class="grid">
        <caption class="sr-only">Backends, their replicas and recent traffic</caption>
        <thead>
          <tr>
            <th scope="col">Backend</th>
            <th scope="col">State</th>
            <th scope="col">Type</th>
            <th scope="col">Tools</th>
            <th scope="col">Replicas (state, breaker)</th>
            <th scope="col">Latency (mean ms)</th>
            <th scope="col">Error rate</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {!services.data?.services.length && <EmptyRow cols={8} poll={services} none="No backends configured." />}
          {(services.data?.services ?? []).map((s) => {
            const b = lbOf(s.name);
            const lat = points.map((p) => p.backends[s.name]?.meanMs ?? null);
            const err = points.map((p) => p.backends[s.name]?.errorRate ?? null);
            return (
              <tr key={s.name} data-backend={s.name}>
                <th scope="row">{s.name}</th>
                <td>
                  <StateBadge state={s.state} />
                  {s.lastError && <div class="muted small">{s.lastError}</div>}
                </td>
                <td>
                  {s.type}
                  {s.transport ? ` (${s.transport})` : ''}
                </td>
                <td>
                  {s.tools}
                  {s.catalogError && <div class="muted small">catalog not refreshed: {s.catalogError}</div>}
                </td>
                <td>
                  <ul class="replicas">
                    {(b?.replicas ?? []).map((r) => (
                      <li key={r.id}>
                        <code>{r.id}</code> <StateBadge state={r.state} /> breaker {r.breaker?.state ?? '–'}
                        {r.ejected ? ', ejected' : ''}, {r.restarts} restarts
                      </li>
                    ))}
                  </ul>
                </td>
                <td>
                  <Sparkline values={lat} label={`${s.name} mean latency`} />
                  <span class="small">{fmt(lat.filter((v) => v !== null).at(-1) ?? null)}</span>
                </td>
                <td>
                  <Sparkline values={err} label={`${s.name} error rate`} cls="c3" />
                  <span class="small">{fmt(err.filter((v) => v !== null).at(-1) ?? null)}</span>
                </td>
                <td>
                  {b && (
                    <button
                      type="button"
                      disabled={me.role !== 'admin'}
                      title={me.role !== 'admin' ? 'needs an admin key' : undefined}
                      onClick={() => reset(s.name)}
                      aria-label={`Reset breakers of ${s.name}`}
                    >
                      Reset breakers
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
