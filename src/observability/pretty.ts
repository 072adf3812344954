/**
 * Dev mode on a terminal: each pino JSON line as one readable line
 * (`12:00:01.123 INFO  mcpeg listening url=http://...`), without a pino-pretty dependency.
 * Anything that is not a JSON object passes through unchanged. Control characters of
 * the message and of values (clients' method names, backends' error texts) are written
 * escaped: on a terminal ESC starts a command (clear the screen, set the title, write the
 * clipboard with OSC 52) and CR rewrites the line.
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
/** C0 controls, DEL and C1 controls (JSON.stringify escapes C0 only; some terminals take C1 as ESC sequences). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const escaped = (s: string) => s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

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
    .map(([k, v]) => `${escaped(k)}=${escaped(typeof v === 'string' && !/[\s"=]/.test(v) ? v : JSON.stringify(v))}`)
    .join(' ');
  return `${paint('2', time)} ${paint(code, label)} ${escaped(String(o.msg ?? ''))}${fields ? ` ${paint('2', fields)}` : ''}\n`;
}

/** A pino destination writing formatted lines to `out` (colours when it is a TTY). */
export function prettyDestination(out: NodeJS.WriteStream): { write(line: string): boolean } {
  const color = Boolean(out.isTTY) && !process.env.NO_COLOR;
  return { write: (line) => out.write(formatLine(line, color)) };
}
