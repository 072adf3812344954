/** The console's shell: login, navigation (hash routes), the page, logout. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, clearKey, getKey, setKey, setUnauthorizedHandler } from './api.js';
import { AuditPage } from './pages/audit.js';
import { BackendsPage } from './pages/backends.js';
import { ConfigPage } from './pages/config.js';
import { MetricsPage } from './pages/metrics.js';
import { OverviewPage } from './pages/overview.js';
import { SessionsPage } from './pages/sessions.js';
import { ToolsPage } from './pages/tools.js';

export interface Me {
  name: string;
  role: 'viewer' | 'admin';
}

const PAGES = [
  { id: 'overview', title: 'Overview', Page: OverviewPage },
  { id: 'backends', title: 'Backends', Page: BackendsPage },
  { id: 'tools', title: 'Tools', Page: ToolsPage },
  { id: 'sessions', title: 'Sessions', Page: SessionsPage },
  { id: 'metrics', title: 'Metrics', Page: MetricsPage },
  { id: 'config', title: 'Config', Page: ConfigPage },
  { id: 'audit', title: 'Audit log', Page: AuditPage },
] as const;

const pageOf = () => {
  const id = location.hash.replace(/^#\/?/, '');
  return PAGES.find((p) => p.id === id) ?? PAGES[0];
};

export function App() {
  const [me, setMe] = useState<Me | undefined>();
  const [checking, setChecking] = useState(getKey() !== null);
  const [page, setPage] = useState(pageOf());

  useEffect(() => {
    setUnauthorizedHandler(() => {
      clearKey();
      setMe(undefined);
    });
    const onHash = () => setPage(pageOf());
    addEventListener('hashchange', onHash);
    if (getKey() !== null) {
      api<Me>('GET', '/me')
        .then(setMe, () => clearKey())
        .finally(() => setChecking(false));
    }
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    document.title = `${page.title} · MCpeg console`;
  }, [page]);

  if (checking) return <p class="loading">Loading…</p>;
  if (!me) return <Login onLogin={setMe} />;
  const { Page } = page;
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">MCpeg console</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.id}>
                <a href={`#/${p.id}`} aria-current={p.id === page.id ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {me.name} <span class={`role role-${me.role}`}>{me.role}</span>
        </span>
        <button
          type="button"
          onClick={() => {
            clearKey();
            setMe(undefined);
          }}
        >
          Log out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <h1>{page.title}</h1>
        <Page me={me} />
      </main>
    </div>
  );
}

function Login({ onLogin }: { onLogin: (me: Me) => void }) {
  const [key, setKeyText] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const me = await api<Me>('GET', '/me', undefined, key);
      setKey(key);
      onLogin(me);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That key is not valid.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <h1>MCpeg console</h1>
      <form onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <label for="admin-key">Admin API key</label>
        {/* No name attribute: an unnamed field is never submitted, so even a native submit (before the script runs) cannot put the key in a URL. */}
        <input id="admin-key" type="password" autoComplete="off" required value={key} onInput={(e) => setKeyText((e.target as HTMLInputElement).value)} />
        <p class="hint">Kept in this tab's session storage only, sent in a header with each call.</p>
        <button type="submit" disabled={busy}>
          Log in
        </button>
        {error && (
          <p id="login-error" role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
