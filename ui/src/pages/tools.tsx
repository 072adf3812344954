import { useMemo, useState } from 'preact/hooks';
import { api, type ApiError, type Pins, type Tool } from '../api.js';
import { EmptyNote, ErrorNote, type PageProps } from '../components.js';
import { usePoll } from '../hooks.js';
import { SchemaForm } from '../schema-form.js';

export function ToolsPage({ me }: PageProps) {
  const tools = usePoll<{ tools: Tool[] }>('/tools', 5000);
  const pins = usePoll<Pins>('/pins', 10000);
  const [q, setQ] = useState('');
  const [backend, setBackend] = useState('');
  const [open, setOpen] = useState<string>();
  // A backend wrote these (untrusted): a description that is not a string is shown as none.
  const list = useMemo(() => (tools.data?.tools ?? []).map((t) => (typeof t.description === 'string' || t.description === null ? t : { ...t, description: null })), [tools.data]);
  const backends = useMemo(() => [...new Set(list.map((t) => t.backend).filter((b): b is string => !!b))].sort(), [list]);
  const needle = q.trim().toLowerCase();
  const shown = list.filter(
    (t) => (!backend || t.backend === backend) && (!needle || t.name.toLowerCase().includes(needle) || (t.description ?? '').toLowerCase().includes(needle)),
  );
  const pinOf = (t: Tool) => {
    const mode = pins.data?.backends.find((b) => b.name === t.backend)?.mode ?? 'off';
    if (mode === 'off') return 'not pinned';
    const bad = pins.data?.mismatched.find((m) => m.backend === t.backend && m.tool === t.ownName);
    if (bad) return `${bad.status} (${bad.action})`;
    return pins.data?.pins.some((p) => p.backend === t.backend && p.tool === t.ownName) ? 'pinned' : mode;
  };
  const withheld = (pins.data?.mismatched ?? []).filter((m) => m.action === 'block');
  return (
    <section aria-label="Tool catalog">
      <ErrorNote error={tools.error} />
      <search class="filters">
        <label for="tool-search">Search</label>
        <input id="tool-search" type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} placeholder="name or description" />
        <label for="tool-backend">Backend</label>
        <select id="tool-backend" value={backend} onChange={(e) => setBackend((e.target as HTMLSelectElement).value)}>
          <option value="">all</option>
          {backends.map((b) => (
            <option key={b} value={b}>
              {b}
            </option>
          ))}
        </select>
        <span class="muted" role="status">
          {shown.length} of {list.length} tools
        </span>
      </search>
      {withheld.length > 0 && (
        <p class="warn">
          {withheld.length} tool(s) withheld by pinning until approved: {withheld.map((m) => `${m.backend}/${m.tool}`).join(', ')}
        </p>
      )}
      {shown.length === 0 && <EmptyNote poll={tools} none={list.length === 0 ? 'No tools: no backend offers any, or none is up.' : 'No tool matches the search.'} />}
      <ul class="tools">
        {shown.map((t) => (
          <li key={t.name} class="tool">
            <details open={open === t.name} onToggle={(e) => (e.currentTarget as HTMLDetailsElement).open && setOpen(t.name)}>
              <summary>
                <code class="tool-name">{t.name}</code> <span class="muted">{t.backend}</span> <span class="badge">{pinOf(t)}</span>
                <span class="desc">{t.description ?? ''}</span>
              </summary>
              {open === t.name && <ToolDetail tool={t} me={me} />}
            </details>
          </li>
        ))}
      </ul>
    </section>
  );
}

function ToolDetail({ tool, me }: { tool: Tool } & PageProps) {
  const [result, setResult] = useState<unknown>();
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const call = async (args: Record<string, unknown>) => {
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      setResult((await api<{ result: unknown }>('POST', '/tools/call', { name: tool.name, arguments: args })).result);
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const id = `t-${tool.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <div class="tool-detail">
      <div>
        <h3>Input schema</h3>
        <pre class="code">{JSON.stringify(tool.inputSchema, null, 2)}</pre>
      </div>
      <div>
        <h3>Try it</h3>
        <SchemaForm idPrefix={id} schema={tool.inputSchema} disabled={busy || me.role !== 'admin'} onSubmit={call} />
        <ErrorNote error={error} />
        {result !== undefined && (
          <div role="status" aria-label="Result">
            <h4>Result{(result as { isError?: boolean }).isError ? ' (tool error)' : ''}</h4>
            <pre class="code result">{JSON.stringify(result, null, 2)}</pre>
          </div>
        )}
      </div>
    </div>
  );
}
