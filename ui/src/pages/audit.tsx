import type { AuditEntry } from '../api.js';
import { EmptyRow, ErrorNote, type PageProps } from '../components.js';
import { usePoll } from '../hooks.js';

export function AuditPage(_: PageProps) {
  const a = usePoll<{ entries: AuditEntry[]; kept: number; max: number }>('/audit', 5000);
  return (
    <section aria-label="Audit log">
      <ErrorNote error={a.error} />
      <p class="muted">
        The last {a.data?.max ?? 500} changes made through this admin listener and, kept apart, the last {a.data?.max ?? 500} refused attempts (the log has every line).
      </p>
      <table class="grid">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Outcome</th>
          </tr>
        </thead>
        <tbody>
          {!a.data?.entries.length && <EmptyRow cols={4} poll={a} none="No changes or refused attempts through this admin listener yet." />}
          {(a.data?.entries ?? []).map((e, i) => (
            <tr key={`${e.at}-${i}`}>
              <td>{new Date(e.at).toLocaleString()}</td>
              <td>
                {e.who ?? 'no valid key'} {e.role ? <span class={`role role-${e.role}`}>{e.role}</span> : null}
              </td>
              <td>
                <code>
                  {e.method} {e.path}
                </code>
              </td>
              <td class={e.outcome === 'ok' ? 'ok' : 'bad'}>
                {e.status} {e.outcome}
                {e.code ? ` (${e.code})` : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
