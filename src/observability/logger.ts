/**
 * Structured JSON logs on stderr (never stdout: `mcpeg stdio` owns stdout for protocol).
 * Secrets are redacted by key name wherever they appear in a log line, and secret values
 * named in the configuration (auth tokens, API keys, passwords, credential headers) are
 * scrubbed from the text of every line before it is written, wherever they appear.
 *
 * Lines to a file descriptor or path are gathered for a few milliseconds and written
 * together (log-sink.ts, sonic-boom): to a regular file on the event loop (the page
 * cache takes the write; no thread-pool round trip per batch), to a pipe, socket or
 * terminal off it (a slow reader must not stall the gateway), and synchronously when the
 * process exits; hot lines with known fields (the access log) skip pino's per-line
 * work through `lineWriter`.
 */
import { fstatSync, statSync } from 'node:fs';
import type { DestinationStream } from 'pino';
import { pino, type Logger } from 'pino';
import { LineBatcher } from './log-sink.js';

export type { Logger };

/** Keys whose values never reach a line, at any depth (compared in lower case). */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['authorization', 'cookie', 'token', 'apikey', 'api_key', 'password', 'secret']);
const CENSOR = '[redacted]';
/** Nesting the key redaction walks into; deeper values still pass the value scrub. */
const MAX_DEPTH = 8;

function isSecretKey(k: string): boolean {
  // Every secret key is 5 to 13 characters: most keys are rejected without lower-casing.
  return k.length >= 5 && k.length <= 13 && SECRET_KEYS.has(k.toLowerCase());
}

function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `obj` with secret-named keys censored, copied only along the paths that had one (the
 * caller's object is never changed). One walk, no allocation when nothing matches.
 */
export function redactKeys<T>(obj: T, depth = 0): T {
  if (depth > MAX_DEPTH) return obj;
  if (Array.isArray(obj)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < obj.length; i++) {
      const v = obj[i] as unknown;
      const r = typeof v === 'object' && v !== null ? redactKeys(v, depth + 1) : v;
      if (r !== v) (out ??= obj.slice())[i] = r;
    }
    return (out ?? obj) as T;
  }
  if (!isPlain(obj)) return obj;
  let out: Record<string, unknown> | undefined;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    const v = obj[k];
    let r: unknown = v;
    if (isSecretKey(k)) r = v === undefined ? v : CENSOR;
    else if (typeof v === 'object' && v !== null) r = redactKeys(v, depth + 1);
    if (r !== v) (out ??= { ...obj })[k] = r;
  }
  return (out ?? obj) as T;
}

/** Replaces every configured secret in a line; the identity when there are none. */
export type Scrub = (line: string) => string;

export interface LoggerOptions {
  /** Values that must never appear in a log line (scrubbed as [redacted]). */
  secrets?: readonly string[];
}

/** What createLogger keeps about its loggers for preformatted lines. */
interface Raw {
  stream: DestinationStream;
  scrub: Scrub | undefined;
  /** `,"name":"mcpeg"`: pino's bindings of the root logger. */
  chindings: string;
  /** The lines go to stderr (file descriptor 2). */
  stderr: boolean;
}
const raws = new WeakMap<Logger, Raw>();

function scrubberFor(secrets: readonly string[] | undefined): Scrub | undefined {
  // Short values would scrub ordinary words; real credentials are longer.
  const list = [...new Set(secrets ?? [])].filter((s) => s.length >= 6).sort((a, b) => b.length - a.length);
  if (list.length === 0) return undefined;
  // Lines are JSON: a secret appears in them JSON-escaped.
  const jsonSafe = list.map((s) => JSON.stringify(s).slice(1, -1));
  return (line) => {
    let out = line;
    for (const s of jsonSafe) if (out.includes(s)) out = out.split(s).join(CENSOR);
    return out;
  };
}

export function createLogger(level: string, destination: number | string | DestinationStream = 2, opts: LoggerOptions = {}): Logger {
  const scrub = scrubberFor(opts.secrets);
  // One write per few milliseconds of lines (log-sink.ts), by sonic-boom (on the loop to a file, else off it); flushed synchronously on exit.
  const stream = typeof destination === 'object' ? destination : new LineBatcher(pino.destination({ dest: destination, sync: isRegularFile(destination) }));
  const log = pino(
    {
      level,
      base: { name: 'mcpeg' },
      formatters: { log: (o) => redactKeys(o), bindings: (b) => redactKeys(b) },
      // pino skips the bindings formatter for children: their bindings are redacted in child() below.
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(scrub ? { hooks: { streamWrite: scrub } } : {}),
    },
    stream,
  );
  const child = log.child;
  // Children inherit this from the root (pino makes them with Object.create), grandchildren too.
  log.child = function (this: Logger, bindings, options) {
    return child.call(this, redactKeys(bindings), options);
  } as typeof log.child;
  raws.set(log, { stream, scrub, chindings: (log as unknown as Record<symbol, string>)[pino.symbols.chindingsSym], stderr: destination === 2 });
  return log;
}

/**
 * The destination is a regular file (`2>>mcpeg.log`, a path): a write there is a copy into
 * the page cache, cheaper done at once on the event loop than handed to the thread pool and
 * called back (at one request at a time that round trip cost ~20% of the gateway's CPU per
 * call). Pipes, sockets and terminals (journald, docker, a console) are read by someone
 * who may fall behind: those writes stay off the loop.
 */
function isRegularFile(dest: number | string): boolean {
  try {
    return typeof dest === 'number' ? fstatSync(dest).isFile() : statSync(dest).isFile();
  } catch (err) {
    // A path that does not exist yet becomes a new regular file.
    return typeof dest === 'string' && (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

const LEVEL_PREFIX = { info: '{"level":30,"time":"', warn: '{"level":40,"time":"' } as const;

let isoMs = -1;
let iso = '';
/** pino's isoTime, computed once per millisecond. */
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    iso = new Date(now).toISOString();
  }
  return iso;
}

/** Writes whole lines a caller built itself, as `log[level]` would (see linePrinter). */
export interface LinePrinter {
  /** The level is enabled (it is reloadable: ask per line, as pino does). */
  enabled(): boolean;
  /** The start of a line up to its own fields: `{"level":30,"time":"…","name":"mcpeg",` (made once per millisecond). */
  head(): string;
  /** Writes a line (head(), the fields, `,"msg":…}` and a newline), configured secrets scrubbed. */
  write(line: string): void;
  /** `text` with configured secrets scrubbed: for text cut before it is written (a cut could split a secret). */
  scrub(text: string): string;
}

/**
 * For lines built in one piece by their caller (the access log): head() then the fields
 * and the end, joined once into one flat string, where a template would make a string
 * per piece and a copy of them all when the line is written. The caller answers for the
 * fields as for lineWriter. Undefined when `log` was not made by createLogger.
 */
export function linePrinter(log: Logger, level: keyof typeof LEVEL_PREFIX): LinePrinter | undefined {
  const raw = raws.get(log);
  if (!raw) return undefined;
  const { stream, scrub, chindings } = raw;
  const prefix = LEVEL_PREFIX[level];
  let headMs = -1;
  let head = '';
  return {
    enabled: () => log.isLevelEnabled(level),
    head(): string {
      const t = isoNow();
      if (isoMs !== headMs) {
        headMs = isoMs;
        head = `${prefix}${t}"${chindings},`;
      }
      return head;
    },
    write(line: string): void {
      stream.write(scrub ? scrub(line) : line);
    },
    scrub: (text) => (scrub ? scrub(text) : text),
  };
}

/**
 * Writes a line the caller formatted, as `log[level](fields, msg)` would, without pino's
 * per-line work: `fields` is the JSON of the line's own fields without braces (`"a":1,"b":"x"`),
 * `msg` a JSON string literal. The caller answers for the fields: no secret-named keys
 * (they are not redacted here); configured secret values are still scrubbed from the
 * whole line. Undefined when `log` was not made by createLogger (an embedder's pino
 * logger): log through it then.
 */
export function lineWriter(log: Logger, level: keyof typeof LEVEL_PREFIX): ((fields: string, msg: string) => void) | undefined {
  const p = linePrinter(log, level);
  if (!p) return undefined;
  return (fields, msg) => {
    if (p.enabled()) p.write(`${p.head()}${fields},"msg":${msg}}\n`);
  };
}

/**
 * Writes what the logger's destination still buffers, synchronously: for the last lines
 * of a process (an 'exit' listener), after pino's own exit flush has run.
 */
export function flushLogSync(log: Logger): void {
  const stream = raws.get(log)?.stream as { flushSync?: () => void } | undefined;
  try {
    stream?.flushSync?.();
  } catch {
    // Not open yet, or already closed: nothing to write to.
  }
}

/**
 * Writes a line for people on stderr after every log line logged before it: when the log
 * goes to stderr too, through the same stream (its lines are written later, off the event
 * loop, and a direct write would overtake them); else straight to stderr.
 */
export function writeStderrAfterLogs(log: Logger, text: string): void {
  const raw = raws.get(log);
  if (raw?.stderr) raw.stream.write(text);
  else process.stderr.write(text);
}

/** A logger that writes nothing: for embedding and tests that do not look at logs. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
