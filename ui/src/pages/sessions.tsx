import { useState } from 'preact/hooks';
import { api, type ApiError, type Session } from '../api.js';
import { ago, EmptyRow, ErrorNote, type PageProps } from '../components.js';
import { usePoll } from '../hooks.js';

export function SessionsPage({ me }: PageProps) {
  const list = usePoll<{ count: number; sessions: Session[] }>('/sessions', 3000);
  const [err, setErr] = useState<ApiError>();
  const end = async (fp: string) => {
    try {
      await api('DELETE', `/sessions/${encodeURIComponent(fp)}`);
      list.reload();
    } catch (e) {
      setErr(e as ApiError);
    }
  };
  return (
    <section aria-label="Sessions">
      <ErrorNote error={list.error ?? err} />
      <p>
        {list.data ? `${list.data.count} client sessions on this instance` : 'Client sessions on this instance'} (shown by fingerprint: a session id is a credential and is never
        shown).
      </p>
      <table class="grid">
        <thead>
          <tr>
            <th scope="col">Fingerprint</th>
            <th scope="col">Client</th>
            <th scope="col">Protocol</th>
            <th scope="col">Endpoint</th>
            <th scope="col">Age</th>
            <th scope="col">Last seen</th>
            <th scope="col">In flight</th>
            <th scope="col">Client IP</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {!list.data?.sessions.length && <EmptyRow cols={9} poll={list} none="No client sessions on this instance." />}
          {(list.data?.sessions ?? []).map((s) => (
            <tr key={s.fingerprint}>
              <th scope="row">
                <code>{s.fingerprint}</code>
              </th>
              <td>
                {s.clientInfo.name ?? '?'} {s.clientInfo.version ?? ''}
              </td>
              <td>{s.protocolVersion}</td>
              <td>{s.endpoint}</td>
              <td>{ago(s.createdAt)}</td>
              <td>{ago(s.lastSeen)} ago</td>
              <td>{s.inflight}</td>
              <td>{s.clientIp ?? '–'}</td>
              <td>
                <button type="button" disabled={me.role !== 'admin'} onClick={() => end(s.fingerprint)} aria-label={`Terminate session ${s.fingerprint}`}>
                  Terminate
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
