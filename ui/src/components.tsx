/** Small shared pieces: charts (SVG, no library), error and state badges. */
import type { ApiError } from './api.js';

export interface PageProps {
  me: { name: string; role: 'viewer' | 'admin' };
}

export function ErrorNote({ error }: { error: ApiError | Error | undefined }) {
  if (!error) return null;
  const problems = 'problems' in error ? error.problems : [];
  return (
    <div role="alert" class="error">
      <p>{error.message}</p>
      {problems.length > 0 && (
        <ul>
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * What a list with nothing in it says: "Loading…" until the first answer, nothing more when
 * that failed (ErrorNote says why), else what "none" means on this page.
 */
function emptyText(poll: { data: unknown; error: unknown }, none: string): string {
  if (poll.data === undefined) return poll.error ? '' : 'Loading…';
  return none;
}

/** The one row of a table that has no rows (see emptyText). */
export function EmptyRow({ cols, poll, none }: { cols: number; poll: { data: unknown; error: unknown }; none: string }) {
  return (
    <tr class="empty">
      <td colSpan={cols} class="muted">
        {emptyText(poll, none)}
      </td>
    </tr>
  );
}

/** The same for a list that is not a table. */
export function EmptyNote({ poll, none }: { poll: { data: unknown; error: unknown }; none: string }) {
  const text = emptyText(poll, none);
  return text ? <p class="muted empty">{text}</p> : null;
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state}`}>{state}</span>;
}

/** A line chart of one or more series over the same x; nulls are gaps. */
export function LineChart({
  series,
  width = 560,
  height = 160,
  label,
  unit = '',
}: {
  series: Array<{ name: string; values: Array<number | null>; cls: string }>;
  width?: number;
  height?: number;
  label: string;
  unit?: string;
}) {
  const n = Math.max(0, ...series.map((s) => s.values.length));
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const pad = 4;
  const x = (i: number) => pad + (n <= 1 ? 0 : (i / (n - 1)) * (width - 2 * pad));
  const y = (v: number) => height - pad - (v / max) * (height - 2 * pad);
  const last = series.map((s) => `${s.name} ${fmt(lastOf(s.values))}${unit}`).join(', ');
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${label}: ${last}`} preserveAspectRatio="none">
        <line class="axis" x1={pad} y1={height - pad} x2={width - pad} y2={height - pad} />
        {series.map((s) => (
          <path key={s.name} class={`line ${s.cls}`} d={linePath(s.values, x, y)} />
        ))}
      </svg>
      <figcaption>
        <strong>{label}</strong>{' '}
        <span class="muted">
          max {fmt(max)}
          {unit}
        </span>
        <span class="legend">
          {series.map((s) => (
            <span key={s.name} class={`key ${s.cls}`}>
              {s.name}: {fmt(lastOf(s.values))}
              {unit}
            </span>
          ))}
        </span>
      </figcaption>
    </figure>
  );
}

export function Sparkline({ values, label, cls = 'c1' }: { values: Array<number | null>; label: string; cls?: string }) {
  const w = 120;
  const h = 28;
  const max = Math.max(1e-9, ...values.filter((v): v is number => v !== null));
  const x = (i: number) => (values.length <= 1 ? 0 : (i / (values.length - 1)) * w);
  const y = (v: number) => h - 2 - (v / max) * (h - 4);
  return (
    <svg class="spark" viewBox={`0 0 ${w} ${h}`} width={w} height={h} role="img" aria-label={`${label}: now ${fmt(lastOf(values))}`}>
      <path class={`line ${cls}`} d={linePath(values, x, y)} />
    </svg>
  );
}

/**
 * An SVG path through the values; a null is a gap. A value alone between gaps (one sample
 * with traffic among idle ones) is a short dash, which the round line cap shows as a dot:
 * a bare "M" draws nothing.
 */
function linePath(values: Array<number | null>, x: (i: number) => number, y: (v: number) => number): string {
  let d = '';
  values.forEach((v, i) => {
    if (v === null) return;
    const joined = i > 0 && values[i - 1] !== null;
    d += `${joined ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    if (!joined && (i + 1 >= values.length || values[i + 1] === null)) d += 'h0.5';
  });
  return d;
}

const lastOf = (v: Array<number | null>) => {
  for (let i = v.length - 1; i >= 0; i--) if (v[i] !== null) return v[i];
  return null;
};

export const fmt = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : Math.abs(v) >= 100 ? String(Math.round(v)) : String(Math.round(v * 100) / 100));

export function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d`;
}
