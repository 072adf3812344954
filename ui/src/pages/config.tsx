import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import { ErrorNote, type PageProps } from '../components.js';
import { diffLines, hunks, locate } from '../diff.js';
import { usePoll } from '../hooks.js';

interface Problem {
  path: string;
  message: string;
}

/** "backends.x.url: Invalid URL" → {path, message}; a problem without a key path keeps all as its message. */
const splitProblem = (p: string): Problem => {
  const i = p.indexOf(': ');
  return i > 0 && !p.slice(0, i).includes(' ') ? { path: p.slice(0, i), message: p.slice(i + 2) } : { path: '', message: p };
};

export function ConfigPage({ me }: PageProps) {
  const running = usePoll<{ file: string | null; config: unknown }>('/config');
  const runningText = running.data ? JSON.stringify(running.data.config, null, 2) : '';
  const [text, setText] = useState<string>();
  const [problems, setProblems] = useState<Problem[]>([]);
  const [error, setError] = useState<ApiError | Error>();
  const [showDiff, setShowDiff] = useState(false);
  const [applied, setApplied] = useState<string>();
  const [busy, setBusy] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (text === undefined && running.data) setText(runningText);
  }, [running.data]);
  const current = text ?? runningText;

  const apply = async () => {
    setError(undefined);
    setProblems([]);
    setApplied(undefined);
    let doc: unknown;
    try {
      doc = JSON.parse(current);
    } catch (e) {
      setError(new Error(`The config is not valid JSON: ${(e as Error).message}`));
      return;
    }
    setBusy(true);
    try {
      const r = await api<{ result: { added: string[]; removed: string[]; changed: string[]; restartRequired: string[] } }>('PUT', '/config', doc);
      const { added, removed, changed, restartRequired } = r.result;
      setApplied(
        `Applied. Added: ${added.join(', ') || 'none'}; removed: ${removed.join(', ') || 'none'}; changed: ${changed.join(', ') || 'none'}${
          restartRequired.length ? `; needs a restart: ${restartRequired.join(', ')}` : ''
        }.`,
      );
      setText(undefined);
      running.reload();
    } catch (e) {
      if (e instanceof ApiError && e.problems.length) setProblems(e.problems.map(splitProblem));
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };

  const goTo = (path: string) => {
    const el = area.current;
    const at = locate(current, path);
    if (!el || !at) return;
    el.focus();
    el.setSelectionRange(at.start, at.end);
    const lineHeight = Number.parseFloat(getComputedStyle(el).lineHeight) || 18;
    el.scrollTop = Math.max(0, (at.line - 4) * lineHeight);
  };

  const diff = showDiff ? diffLines(runningText, current) : undefined;
  const changed = current !== runningText;
  return (
    <section aria-label="Configuration">
      <p class="muted">
        The running configuration{running.data?.file ? ` (from ${running.data.file})` : ''}, defaults applied, secrets shown as "[redacted]" (sent back as is, they keep their
        running value). Apply replaces it as a hot reload: validated first, nothing changes when it is refused.
      </p>
      <ErrorNote error={running.error} />
      {problems.length > 0 && (
        <div role="alert" class="error" aria-labelledby="problems-title">
          <p id="problems-title">
            <strong>Refused: {problems.length} problem(s).</strong> Nothing changed.
          </p>
          <ul class="problems">
            {problems.map((p) => {
              const at = p.path ? locate(current, p.path) : undefined;
              return (
                <li key={p.path + p.message} data-path={p.path}>
                  {p.path && <code class="keypath">{p.path}</code>} {p.message}
                  {at && (
                    <button type="button" class="link" onClick={() => goTo(p.path)}>
                      show (line {at.line})
                    </button>
                  )}
                </li>
              );
            })}
          </ul>
        </div>
      )}
      {!problems.length && <ErrorNote error={error} />}
      {applied && (
        <p role="status" class="ok">
          {applied}
        </p>
      )}
      <div class="editor-bar">
        <button type="button" onClick={() => setShowDiff((v) => !v)} aria-pressed={showDiff}>
          {showDiff ? 'Hide diff' : 'Diff against running'}
        </button>
        <button
          type="button"
          disabled={!changed}
          onClick={() => {
            setText(runningText);
            setProblems([]);
            setError(undefined);
          }}
        >
          Revert
        </button>
        {me.role === 'admin' ? (
          <button type="button" class="primary" disabled={busy || !changed} onClick={apply}>
            Apply
          </button>
        ) : (
          <span class="muted">Viewing only: applying needs an admin key.</span>
        )}
        <span class="muted" role="status">
          {changed ? 'edited' : 'same as running'}
        </span>
      </div>
      {showDiff && (
        <figure class="diff-figure">
          <figcaption class="sr-only">Diff against the running configuration</figcaption>
          <pre class="code diff">
            {diff === undefined
              ? 'too large to diff here'
              : !changed
                ? 'no changes'
                : hunks(diff).map((l, i) =>
                    l === null ? (
                      <span key={i} class="gap">
                        {'…\n'}
                      </span>
                    ) : (
                      <span key={i} class={l.op === '+' ? 'add' : l.op === '-' ? 'del' : ''}>
                        {`${l.op} ${l.text}\n`}
                      </span>
                    ),
                  )}
          </pre>
        </figure>
      )}
      <label for="config-text">Configuration (JSON)</label>
      <textarea
        id="config-text"
        ref={area}
        class="code editor"
        spellcheck={false}
        readOnly={me.role !== 'admin'}
        value={current}
        onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        rows={28}
      />
    </section>
  );
}
