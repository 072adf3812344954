/**
 * Tool-definition pinning at run time ("rug pull" protection): each tool a backend lists
 * is compared with the definition pinned for it (digest.ts), before views are built
 * from the catalog (router/registry.ts asks `gate` for every backend on every rebuild).
 *
 * - A backend the pins know nothing about: its tools are trusted on first use, pinned,
 *   and written to the store (the lock file). So is a backend seen serving no tools
 *   (an empty entry), so that a tool it adds later is not trusted silently.
 * - A tool whose definition differs from its pin (`changed`), a tool the pins do not name
 *   on a backend they know (`new`), a definition that cannot be pinned (`unpinnable`:
 *   nested too deep): in `warn` mode clients still see and call it; in `block` mode it is
 *   withheld from every list and calls to it are refused (MCPEG_ERR_TOOL_PIN_MISMATCH).
 *   Either way it is logged once per definition, counted (metrics), and listed by
 *   /health and GET /admin/pins, until approved: `approve` here (the admin API), or the
 *   store changed by another writer (`mcpeg pin approve`), which `watch` picks up.
 *
 * A pin stays when its tool is no longer served (the tool coming back unchanged is fine).
 */
import { GatewayError } from '../errors/catalog.js';
import type { Logger } from '../observability/logger.js';
import type { Item } from '../upstream/catalog.js';
import { toolDigest, type ToolDigest } from './digest.js';
import { LockFileError, samePins, type Pin, type PinSet } from './lock-file.js';
import type { PinStore } from './store.js';

export type PinMode = 'off' | 'warn' | 'block';
export type PinStatus = 'changed' | 'new' | 'unpinnable';

export interface PinProblem {
  /** The error a call to a withheld tool gets. */
  readonly code: 'MCPEG_ERR_TOOL_PIN_MISMATCH';
  readonly backend: string;
  /** The backend's own name for the tool. */
  readonly tool: string;
  readonly status: PinStatus;
  /** What is done about it: `warn` (still served) or `block` (withheld, calls refused). */
  readonly action: 'warn' | 'block';
  /** The digest of the definition served now (none when unpinnable). */
  readonly digest: string | undefined;
  /** The pinned digest (none for a new tool). */
  readonly pinned: string | undefined;
  /** When this definition was first noticed (ISO 8601). */
  readonly since: string;
  readonly message: string;
}

/** What clients of a backend may see: its tools less those withheld, and why each was. */
export interface GateResult {
  readonly tools: readonly Item[];
  readonly withheld: ReadonlyMap<string, PinProblem>;
}

export interface PinGuardOptions {
  readonly store: PinStore;
  readonly log: Logger;
  /** The mode in force for a backend (its own `pinning`, else the global `pinning.mode`). */
  modeOf(backend: string): PinMode;
  /** Pins changed for these backends (an approval, the lock file changed): views must be built again. */
  onChange(backends: ReadonlySet<string>): void;
  now?: () => Date;
}

export interface Approval {
  readonly backend: string;
  readonly tool: string;
  readonly digest: string;
  /** The digest pinned before (none for a new tool). */
  readonly previous: string | undefined;
}

const digests = new WeakMap<Item, ToolDigest | { readonly error: string }>();
function digestOf(tool: Item): ToolDigest | { readonly error: string } {
  let d = digests.get(tool);
  if (!d) digests.set(tool, (d = toolDigest(tool)));
  return d;
}

const EMPTY_WITHHELD: ReadonlyMap<string, PinProblem> = new Map();

export class PinGuard {
  private pins: PinSet = new Map();
  /** Bumped whenever the pins change: cached gate results of older pins are stale. */
  private generation = 0;
  /** Problems of the catalogs served now, by backend then tool: bounded by what is listed. */
  private readonly problems = new Map<string, Map<string, PinProblem>>();
  private readonly cache = new WeakMap<readonly Item[], { generation: number; mode: PinMode; result: GateResult }>();
  private unwatch: (() => void) | undefined;
  /** A change the store announced that could not be read yet (its store did not answer): read again shortly. */
  private retry: NodeJS.Timeout | undefined;
  private writeFailed = false;
  private readonly now: () => Date;

  constructor(private readonly o: PinGuardOptions) {
    this.now = o.now ?? (() => new Date());
  }

  get where(): string {
    return this.o.store.where;
  }

  /** Reads the pins (throws LockFileError naming the file when they cannot be read) and follows changes made elsewhere. */
  async start(): Promise<void> {
    this.pins = await this.o.store.load();
    this.generation++;
    this.unwatch ??= this.o.store.watch(() => this.follow());
  }

  stop(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    clearTimeout(this.retry);
    this.retry = undefined;
  }

  /**
   * A change announced by the store. A store that does not answer now (Redis away, reconnecting,
   * past its bound on unanswered commands) is not a reason to end the process (an unhandled
   * rejection did, at every Redis restart): the previous pins stay in force, read again each second
   * until it answers (logged once).
   */
  private follow(failing = false): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    this.reload('lock file changed').then(
      () => {
        if (failing) this.o.log.info({ lockFile: this.where }, 'tool pins read again');
      },
      (err: unknown) => {
        if (!failing) this.o.log.error({ lockFile: this.where, err: (err as Error).message }, 'tool pins not reloaded; the previous pins stay in force, read again each second');
        if (!this.unwatch) return;
        this.retry = setTimeout(() => this.follow(true), 1000);
        this.retry.unref();
      },
    );
  }

  /** Reads the pins again (the store changed, SIGHUP); keeps the old ones if they cannot be read. */
  async reload(why: string): Promise<void> {
    let next: PinSet;
    try {
      next = await this.o.store.load();
    } catch (err) {
      if (!(err instanceof LockFileError)) throw err;
      this.o.log.error({ lockFile: this.where, err: err.message }, 'tool pins not reloaded; the previous pins stay in force');
      return;
    }
    if (samePins(next, this.pins)) return;
    const touched = new Set([...next.keys(), ...this.pins.keys(), ...this.problems.keys()]);
    this.adopt(next);
    this.o.log.info({ lockFile: this.where, why }, 'tool pins reloaded');
    this.o.onChange(touched);
  }

  /** A backend left the configuration: its problems go (its pins stay in the store). */
  forget(backend: string): void {
    this.problems.delete(backend);
  }

  /** The pins in force (GET /admin/pins). */
  get current(): PinSet {
    return this.pins;
  }

  /** Every tool now served against its pin: what /health, metrics and the admin API show. */
  mismatches(): PinProblem[] {
    const out: PinProblem[] = [];
    for (const m of this.problems.values()) out.push(...m.values());
    return out;
  }

  /**
   * A backend's tools as clients may see them. `up`: the backend is serving (a backend
   * that is down lists nothing, and is not pinned as serving nothing).
   */
  gate(backend: string, tools: readonly Item[], up: boolean): GateResult {
    const mode = this.o.modeOf(backend);
    if (mode === 'off') {
      this.problems.delete(backend);
      return { tools, withheld: EMPTY_WITHHELD };
    }
    const hit = this.cache.get(tools);
    if (hit && hit.generation === this.generation && hit.mode === mode) return hit.result;
    if (!this.pins.has(backend) && up) this.trustOnFirstUse(backend, tools);
    const pinned = this.pins.get(backend);
    const before = this.problems.get(backend);
    const found = new Map<string, PinProblem>();
    const visible: Item[] = [];
    for (const t of tools) {
      const name = t.name;
      if (typeof name !== 'string') {
        visible.push(t);
        continue;
      }
      const p = this.check(backend, name, digestOf(t), pinned?.get(name), pinned !== undefined, mode, before?.get(name));
      if (!p) {
        visible.push(t);
        continue;
      }
      found.set(name, p);
      if (mode === 'warn') visible.push(t);
    }
    if (found.size) this.problems.set(backend, found);
    else this.problems.delete(backend);
    const result: GateResult = { tools: mode === 'block' && found.size ? visible : tools, withheld: mode === 'block' ? found : EMPTY_WITHHELD };
    this.cache.set(tools, { generation: this.generation, mode, result });
    return result;
  }

  /**
   * Pins the definitions `tools` serve now: `tool` alone, or (no tool) every tool of the
   * backend that differs from its pin. `expect`: the digest the approver reviewed; a
   * different one served now is refused (it changed again meanwhile).
   */
  async approve(backend: string, tools: readonly Item[], by: string, tool?: string, expect?: string): Promise<Approval[]> {
    const targets: Array<{ name: string; d: ToolDigest }> = [];
    const pick = (t: Item) => {
      const d = digestOf(t);
      if ('error' in d) throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', `tool "${String(t.name)}" of backend "${backend}": ${d.error}`, { backend, tool: t.name });
      return d;
    };
    if (tool !== undefined) {
      const t = tools.find((x) => x.name === tool);
      if (!t) throw new GatewayError('MCPEG_ERR_NOT_FOUND', `backend "${backend}" serves no tool "${tool}" now`, { backend, tool });
      const d = pick(t);
      if (expect !== undefined && expect !== d.digest)
        throw new GatewayError('MCPEG_ERR_CONFLICT', `tool "${tool}" of backend "${backend}" is served with digest ${d.digest} now, not ${expect}: review it again`, {
          backend,
          tool,
          digest: d.digest,
        });
      targets.push({ name: tool, d });
    } else {
      const pinned = this.pins.get(backend);
      for (const t of tools) {
        if (typeof t.name !== 'string') continue;
        const d = digestOf(t);
        if ('error' in d || pinned?.get(t.name)?.digest === d.digest) continue;
        targets.push({ name: t.name, d });
      }
    }
    const at = this.now().toISOString();
    const approvals: Approval[] = [];
    const stored = await this.o.store.update((current) => {
      approvals.length = 0;
      const next = new Map(current);
      const entry = new Map(current.get(backend) ?? []);
      for (const { name, d } of targets) {
        const old = entry.get(name);
        approvals.push({ backend, tool: name, digest: d.digest, previous: old?.digest });
        if (old?.digest !== d.digest) entry.set(name, pinOf(d, at, by, old));
      }
      next.set(backend, entry);
      return next;
    });
    this.adopt(stored);
    for (const a of approvals) this.o.log.info({ backend, tool: a.tool, digest: a.digest, previous: a.previous ?? null, by }, 'tool definition approved');
    this.o.onChange(new Set([backend]));
    return approvals;
  }

  private adopt(pins: PinSet): void {
    this.pins = pins;
    this.generation++;
  }

  private check(
    backend: string,
    tool: string,
    d: ToolDigest | { readonly error: string },
    pin: Pin | undefined,
    known: boolean,
    mode: 'warn' | 'block',
    before: PinProblem | undefined,
  ): PinProblem | undefined {
    let status: PinStatus;
    let why: string;
    if ('error' in d) {
      status = 'unpinnable';
      why = d.error;
    } else if (pin === undefined) {
      if (!known) return undefined;
      status = 'new';
      why = 'it is not in the pinned tool list of this backend';
    } else if (pin.digest !== d.digest) {
      status = 'changed';
      why = `its definition changed since it was pinned (${pin.pinnedAt}, ${pin.pinnedBy})`;
    } else return undefined;
    const digest = 'error' in d ? undefined : d.digest;
    if (before && before.status === status && before.digest === digest && before.action === mode) return before;
    const action = mode === 'block' ? 'hidden from clients and calls to it are refused' : 'clients still see it (pinning mode warn)';
    const message = `tool "${tool}" of backend "${backend}" ${mode === 'block' ? 'is blocked' : 'is not approved'}: ${why}; review it, then approve it with \`mcpeg pin approve ${backend}/${tool}\` or POST /admin/pins/approve`;
    const p: PinProblem = { code: 'MCPEG_ERR_TOOL_PIN_MISMATCH', backend, tool, status, action: mode, digest, pinned: pin?.digest, since: this.now().toISOString(), message };
    this.o.log.warn({ backend, tool, status, digest: digest ?? null, pinned: pin?.digest ?? null, lockFile: this.where }, `tool definition not approved: ${action}`);
    return p;
  }

  /** Pins every tool of a backend the pins do not know yet, and stores them (another writer's pins win). */
  private trustOnFirstUse(backend: string, tools: readonly Item[]): void {
    const at = this.now().toISOString();
    const entry = new Map<string, Pin>();
    for (const t of tools) {
      if (typeof t.name !== 'string') continue;
      const d = digestOf(t);
      if (!('error' in d)) entry.set(t.name, pinOf(d, at, 'first use'));
    }
    const next = new Map(this.pins);
    next.set(backend, entry);
    this.adopt(next);
    this.o.log.info({ backend, tools: entry.size, lockFile: this.where }, 'tool definitions pinned on first use');
    this.o.store
      .update((current) => {
        if (current.has(backend)) return undefined;
        const merged = new Map(current);
        merged.set(backend, entry);
        return merged;
      })
      .then(
        (stored) => {
          this.writeFailed = false;
          const theirs = stored.get(backend);
          const ours = this.pins.get(backend);
          if (!theirs || (ours && samePins(new Map([[backend, theirs]]), new Map([[backend, ours]])))) return;
          // Someone else's pins for this backend reached the store first: theirs hold.
          const next = new Map(this.pins);
          next.set(backend, theirs);
          this.adopt(next);
          this.o.onChange(new Set([backend]));
        },
        (err: unknown) => {
          if (!this.writeFailed) this.o.log.error({ lockFile: this.where, err: (err as Error).message }, 'tool pins could not be written; they are kept in memory only');
          this.writeFailed = true;
        },
      );
  }
}

export function pinOf(d: ToolDigest, at: string, by: string, previous?: Pin): Pin {
  return { digest: d.digest, firstSeen: previous?.firstSeen ?? at, pinnedAt: at, pinnedBy: by, size: d.size, definition: d.definition };
}
