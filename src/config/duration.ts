const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;

/** Parses `250ms`, `10s`, `5m`, `1h` or a bare number of milliseconds. */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = PATTERN.exec(v.trim());
  if (!m) return /^\d+$/.test(v.trim()) ? Number(v.trim()) : undefined;
  return Math.round(Number(m[1]) * UNITS[m[2]]);
}
