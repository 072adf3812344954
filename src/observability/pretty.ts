/**
 * Dev mode on a terminal: each pino JSON line as one readable line
 * (`12:00:01.123 INFO  mcpeg listening url=http://...`), without a pino-pretty dependency.
 * Anything that is not a JSON object passes through unchanged.
 */
const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO ', '32'],
  40: ['WARN ', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};
const HIDDEN = new Set(['level', 'time', 'msg', 'name', 'pid', 'hostname']);

export function formatLine(line: string, color: boolean): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) return line;
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const [label, code] = LEVELS[Number(o.level)] ?? [String(o.level).padEnd(5), '0'];
  const time = typeof o.time === 'string' ? o.time.slice(11, 23) : '';
  const fields = Object.entries(o)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${paint('2', time)} ${paint(code, label)} ${String(o.msg ?? '')}${fields ? ` ${paint('2', fields)}` : ''}\n`;
}

/** A pino destination writing formatted lines to `out` (colours when it is a TTY). */
export function prettyDestination(out: NodeJS.WriteStream): { write(line: string): boolean } {
  const color = Boolean(out.isTTY) && !process.env.NO_COLOR;
  return { write: (line) => out.write(formatLine(line, color)) };
}
