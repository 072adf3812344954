/**
 * The lock file: the pinned definition of every tool of every backend, as JSON an
 * operator commits and reviews. One entry per backend and tool, by the backend's name in
 * the config and the tool's own name (not the prefixed name clients see), holding the
 * digest, when the tool was first seen, when and by what its current definition was
 * pinned, and the definition itself (to show what changed).
 *
 *   { "_comment": "...", "backends": { "<backend>": { "tools": { "<tool>": {
 *       "definition": {...}, "digest": "sha256:...", "first_seen": "...",
 *       "pinned_at": "...", "pinned_by": "first use", "size": 123 } } } },
 *     "version": 1 }
 *
 * Written in one order (canonical.ts `prettyJson`: members sorted), so the same pins
 * always give the same bytes and a diff shows only what changed. A backend with an
 * empty `tools` was seen serving no tools: a tool it adds later is new, not trusted.
 */
import { prettyJson } from './canonical.js';

export const LOCK_VERSION = 1;
const COMMENT = 'MCpeg tool pins (docs/auth.md#tool-pinning): review changes like code; approve a changed tool with `mcpeg pin approve <backend>/<tool>`.';
const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** A lock file larger than this is refused rather than read (it is read on every change). */
export const MAX_LOCK_FILE_BYTES = 64 * 1024 * 1024;

export interface Pin {
  readonly digest: string;
  /** When the tool was first pinned (ISO 8601). */
  readonly firstSeen: string;
  /** When its current definition was pinned. */
  readonly pinnedAt: string;
  /** What pinned it: "first use", "mcpeg pin", "mcpeg pin approve", "admin API (<key name>)". */
  readonly pinnedBy: string;
  /** Length of the canonical definition. */
  readonly size: number;
  /** The definition as listed, unless it was too large to keep (digest.ts). */
  readonly definition: Record<string, unknown> | undefined;
}

/** backend name → tool name → pin. Maps: tool names come from backends ("__proto__" is a name like any other). */
export type PinSet = ReadonlyMap<string, ReadonlyMap<string, Pin>>;

export class LockFileError extends Error {
  override name = 'LockFileError';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a lock file's text; every problem names the file and the member path. */
export function parseLockFile(text: string, file: string): PinSet {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new LockFileError(`${file}: not a valid lock file (not JSON: ${(err as Error).message}); fix it, or delete it to pin again from what the backends serve`);
  }
  const bad = (path: string, what: string) => new LockFileError(`${file}: not a valid lock file: ${path}: ${what}`);
  if (!isObject(raw)) throw bad('(root)', 'expected an object');
  for (const k of Object.keys(raw)) if (k !== 'version' && k !== 'backends' && k !== '_comment') throw bad(k, 'unknown member');
  if (raw.version !== LOCK_VERSION) throw bad('version', `expected ${LOCK_VERSION} (this MCpeg reads lock files of version ${LOCK_VERSION})`);
  if (!isObject(raw.backends)) throw bad('backends', 'expected an object');
  const out = new Map<string, Map<string, Pin>>();
  for (const [backend, entry] of Object.entries(raw.backends)) {
    const at = `backends.${JSON.stringify(backend)}`;
    if (!isObject(entry)) throw bad(at, 'expected an object');
    for (const k of Object.keys(entry)) if (k !== 'tools') throw bad(`${at}.${k}`, 'unknown member');
    if (!isObject(entry.tools)) throw bad(`${at}.tools`, 'expected an object');
    const tools = new Map<string, Pin>();
    for (const [tool, p] of Object.entries(entry.tools)) {
      const here = `${at}.tools.${JSON.stringify(tool)}`;
      if (!isObject(p)) throw bad(here, 'expected an object');
      for (const k of Object.keys(p)) if (!['digest', 'first_seen', 'pinned_at', 'pinned_by', 'size', 'definition'].includes(k)) throw bad(`${here}.${k}`, 'unknown member');
      if (typeof p.digest !== 'string' || !DIGEST.test(p.digest)) throw bad(`${here}.digest`, 'expected "sha256:" and 64 lower-case hex digits');
      for (const k of ['first_seen', 'pinned_at', 'pinned_by'] as const) if (typeof p[k] !== 'string') throw bad(`${here}.${k}`, 'expected a string');
      if (!Number.isSafeInteger(p.size) || (p.size as number) < 0) throw bad(`${here}.size`, 'expected a non-negative integer');
      if (p.definition !== undefined && !isObject(p.definition)) throw bad(`${here}.definition`, 'expected an object');
      tools.set(tool, {
        digest: p.digest,
        firstSeen: p.first_seen as string,
        pinnedAt: p.pinned_at as string,
        pinnedBy: p.pinned_by as string,
        size: p.size as number,
        definition: p.definition as Record<string, unknown> | undefined,
      });
    }
    out.set(backend, tools);
  }
  return out;
}

/**
 * The lock file's text for a pin set: members sorted, two-space indentation, a final
 * newline. Never larger than `max` bytes (what `parseLockFile`'s reader accepts): a
 * backend's definitions could otherwise make the gateway write a file it then refuses to
 * read, and so refuses to start. Pretty printing multiplies a deeply nested definition
 * (each array element on a line of its own, indented by its depth), so the budget is on
 * the text written: over it, kept definitions are left out, largest first (the digests
 * alone still pin); throws LockFileError if the digests alone do not fit.
 */
export function serializeLockFile(pins: PinSet, max = MAX_LOCK_FILE_BYTES): string {
  let text = render(pins, undefined);
  let over = Buffer.byteLength(text) - max;
  if (over <= 0) return text;
  const kept: Array<{ pin: Pin; cost: number }> = [];
  for (const tools of pins.values()) {
    for (const pin of tools.values()) {
      if (!pin.definition) continue;
      // Its pretty text at its depth in the file (backends, <backend>, tools, <tool>, definition: 10 spaces a line).
      const own = prettyJson(pin.definition);
      kept.push({ pin, cost: Buffer.byteLength(own) + 10 * own.split('\n').length });
    }
  }
  kept.sort((a, b) => b.cost - a.cost);
  const dropped = new Set<Pin>();
  while (over > 0) {
    if (dropped.size === kept.length) throw new LockFileError(`the tool pins do not fit in a lock file of ${max} bytes even without their definitions`);
    let freed = 0;
    for (const k of kept) {
      if (freed >= over) break;
      if (dropped.has(k.pin)) continue;
      dropped.add(k.pin);
      freed += k.cost;
    }
    text = render(pins, dropped);
    over = Buffer.byteLength(text) - max;
  }
  return text;
}

function render(pins: PinSet, without: ReadonlySet<Pin> | undefined): string {
  const backends = new Map<string, unknown>();
  for (const [backend, tools] of pins) {
    const entries = new Map<string, unknown>();
    for (const [tool, p] of tools) {
      entries.set(tool, {
        digest: p.digest,
        first_seen: p.firstSeen,
        pinned_at: p.pinnedAt,
        pinned_by: p.pinnedBy,
        size: p.size,
        ...(p.definition && !without?.has(p) ? { definition: p.definition } : {}),
      });
    }
    backends.set(backend, { tools: fromMap(entries) });
  }
  return `${prettyJson({ _comment: COMMENT, backends: fromMap(backends), version: LOCK_VERSION })}\n`;
}

/** A plain object from a Map whose keys are outside input: own data members, never the prototype setter. */
function fromMap(m: ReadonlyMap<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(m);
}

/** Two pin sets hold the same pins (what the file would say). */
export function samePins(a: PinSet, b: PinSet): boolean {
  return render(a, undefined) === render(b, undefined);
}
