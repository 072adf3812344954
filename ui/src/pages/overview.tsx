import type { Info, Instances, Stats } from '../api.js';
import { ago, EmptyRow, ErrorNote, type PageProps } from '../components.js';
import { usePoll } from '../hooks.js';

export function OverviewPage(_: PageProps) {
  const info = usePoll<Info>('/info', 5000);
  const stats = usePoll<Stats>('/stats', 2000);
  const instances = usePoll<Instances>('/instances', 5000);
  const cfg = usePoll<{ file: string | null; config: { state?: { store?: string }; server?: { host?: string; port?: number } } }>('/config');
  const s = stats.data;
  const b = s?.backends;
  const health = !b ? 'unknown' : b.total === 0 ? 'no backends' : b.down === 0 && b.starting === 0 ? 'healthy' : b.up > 0 ? 'degraded' : 'down';
  const store = cfg.data?.config.state?.store ?? 'memory';
  return (
    <section aria-labelledby="h-overview">
      <h2 id="h-overview" class="sr-only">
        Gateway
      </h2>
      <ErrorNote error={info.error ?? stats.error} />
      <div class="cards">
        <div class="card" data-testid="health">
          <h3>Health</h3>
          <p class={`big health-${health.replace(' ', '-')}`}>{health}</p>
          {b && (
            <p>
              {b.up} up, {b.down} down, {b.starting} starting of {b.total}
            </p>
          )}
        </div>
        <div class="card" data-testid="version">
          <h3>Version</h3>
          <p class="big">{info.data?.version ?? '…'}</p>
          <p>
            Node.js {info.data?.node} on {info.data?.platform}, pid {info.data?.pid}
          </p>
        </div>
        <div class="card" data-testid="uptime">
          <h3>Uptime</h3>
          <p class="big">{info.data ? ago(info.data.startedAt) : '…'}</p>
          <p>since {info.data?.startedAt}</p>
        </div>
        <div class="card">
          <h3>Traffic</h3>
          <p class="big">{s?.sessions ?? '…'} sessions</p>
          <p>
            {s?.requests.total ?? 0} requests, {s?.requests.inflight ?? 0} in flight; {s?.catalog.tools ?? 0} tools
          </p>
        </div>
      </div>
      <h2>Instance</h2>
      <dl class="facts">
        <dt>MCP endpoint</dt>
        <dd>{info.data?.listening.mcp ?? '–'}</dd>
        <dt>Admin API</dt>
        <dd>{info.data?.listening.admin ?? '–'}</dd>
        <dt>Config file</dt>
        <dd>{info.data?.configFile ?? 'none (started without a file)'}</dd>
        <dt>State store</dt>
        <dd>
          {store}
          {store === 'redis' && ' — shared with the other instances; each instance has its own console showing its own sessions and metrics'}
        </dd>
        <dt>Config reloads</dt>
        <dd>
          {s?.configReloads.success ?? 0} applied, {s?.configReloads.failure ?? 0} refused
        </dd>
      </dl>
      <h2 id="h-instances">Instances</h2>
      <ErrorNote error={instances.error} />
      <p>
        {store === 'redis' ? 'The gateway instances sharing the state store (each keeps a record in Redis while it runs).' : 'The memory store: this instance alone.'}
        {instances.data?.truncated && ' More than 1,000: the list is cut.'}
      </p>
      <table class="grid" aria-labelledby="h-instances" data-testid="instances">
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Version</th>
            <th scope="col">Started</th>
            <th scope="col">Host</th>
            <th scope="col">Pid</th>
            <th scope="col">This one</th>
          </tr>
        </thead>
        <tbody>
          {!instances.data?.instances.length && <EmptyRow cols={6} poll={instances} none="No instance records." />}
          {(instances.data?.instances ?? []).map((i) => (
            <tr key={i.id} aria-current={i.self ? 'true' : undefined}>
              <th scope="row">
                <code>{i.id}</code>
              </th>
              <td>{i.version ?? '?'}</td>
              <td title={i.started_at ?? undefined}>{i.started_at && !Number.isNaN(Date.parse(i.started_at)) ? `${ago(i.started_at)} ago` : '?'}</td>
              <td>{i.hostname ?? '?'}</td>
              <td>{i.pid ?? '?'}</td>
              <td>{i.self ? 'yes (this console)' : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
