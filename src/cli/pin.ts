/**
 * `mcpeg pin`: tool-definition pinning from the command line (docs/auth.md#tool-pinning). It works
 * offline, from the config file: the configured backends are started as the gateway
 * starts them (stdio children, HTTP connections, plugins), their tools listed, and the
 * lock file (pinning.lock_file) read and written directly, so it runs in CI with no
 * gateway. A running gateway follows the lock file (it watches it) and applies what
 * changed: an approved tool is listed and callable again.
 *
 *   mcpeg pin            pin backends the lock file does not know yet (trust on first
 *                        use); report tools that differ, without approving them
 *   mcpeg pin status     compare only; write nothing
 *   mcpeg pin approve    pin what the named backends serve now
 *
 * Backends with `pinning: off` in their own entry are left out; the others are pinned
 * whatever pinning.mode says, so a lock file can be made before pinning is turned on.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config/schema.js';
import { protectedPaths } from '../config/protected.js';
import { backendEntries, buildBackend } from '../backends/build.js';
import { silentLogger } from '../observability/logger.js';
import { toolDigest } from '../pinning/digest.js';
import { PinGuard, pinOf } from '../pinning/guard.js';
import { LockFileError, type Pin, type PinSet } from '../pinning/lock-file.js';
import { FilePinStore } from '../pinning/store.js';
import type { Backend, BackendListener } from '../upstream/backend.js';
import type { Item } from '../upstream/catalog.js';
import { EXIT, loadOrReport } from './common.js';

const USAGE = `Usage: mcpeg pin [status] [--config FILE] [--json]
       mcpeg pin approve (<backend>/<tool> | <backend>)... [--config FILE]
       mcpeg pin approve --all [--config FILE]
Starts the configured backends (not the gateway), lists their tools and compares each
definition with the lock file (pinning.lock_file, default ./mcpeg.lock.json beside the
config file).
  pin           pins every tool of a backend the lock file does not name yet (first use);
                a changed or new tool of a pinned backend is reported, not approved
  pin status    compares only and writes nothing (--json: a JSON report)
  pin approve   pins what the backend serves now: one tool (<backend>/<tool>), every tool
                of a backend that differs (<backend>), or of every backend (--all)
Backends with "pinning: off" are left out. A running gateway picks up the changed file.
Exit 0: every tool matches its pin; 1: a tool differs (or a backend did not start);
3: invalid configuration or lock file.`;

type Row = { backend: string; tool: string; status: 'ok' | 'pinned' | 'changed' | 'new' | 'unpinnable' | 'missing'; digest?: string; pinned?: string };

export async function runPin(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`mcpeg: ${(err as Error).message}\n${USAGE}\n`);
    return EXIT.USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.OK;
  }
  const [sub, ...targets] = positionals;
  if (sub !== undefined && sub !== 'status' && sub !== 'approve') return usage(`unknown pin command "${sub}"`);
  if (sub !== 'approve' && (targets.length || values.all)) return usage('targets and --all go with "mcpeg pin approve"');
  if (sub === 'approve' && targets.length === 0 && !values.all) return usage('name what to approve: <backend>/<tool>, <backend>, or --all');
  if (sub === 'approve' && targets.length > 0 && values.all) return usage('give targets or --all, not both');
  const cfg = loadOrReport(values.config as string | undefined);
  if (typeof cfg === 'number') return cfg;

  const pinned = pinnable(cfg);
  const wanted = new Map<string, Set<string> | 'all'>();
  for (const t of targets) {
    const slash = t.indexOf('/');
    const backend = slash < 0 ? t : t.slice(0, slash);
    if (!pinned.has(backend)) return usage(`no backend "${backend}" to pin in the configuration (an enabled one, without "pinning: off")`);
    const prev = wanted.get(backend);
    if (slash < 0) wanted.set(backend, 'all');
    else if (prev !== 'all') wanted.set(backend, (prev ?? new Set()).add(t.slice(slash + 1)));
  }
  const names = sub === 'approve' && !values.all ? [...wanted.keys()] : [...pinned];

  const store = new FilePinStore(cfg.pinning.lock_file);
  try {
    await store.load();
  } catch (err) {
    if (err instanceof LockFileError) {
      process.stderr.write(`mcpeg: ${err.message}\n`);
      return EXIT.CONFIG;
    }
    throw err;
  }
  const served = await listTools(cfg, names);
  let failed = false;
  for (const [name, s] of served) {
    if ('error' in s) {
      failed = true;
      process.stderr.write(`mcpeg: backend "${name}" did not start: ${s.error}; its pins are left as they are\n`);
    }
  }
  const up = new Map([...served].flatMap(([n, s]) => ('tools' in s ? [[n, s.tools] as const] : [])));

  try {
    if (sub === 'approve') {
      const guard = new PinGuard({ store, log: silentLogger(), modeOf: () => 'block', onChange: () => {} });
      await guard.start();
      guard.stop();
      let missing = false;
      for (const [backend, tools] of up) {
        const want = values.all ? 'all' : wanted.get(backend)!;
        const list = want === 'all' ? [undefined] : [...want];
        for (const tool of list) {
          try {
            for (const a of await guard.approve(backend, tools, 'mcpeg pin approve', tool)) {
              process.stdout.write(`approved ${a.backend}/${a.tool} ${a.digest}${a.previous ? ` (was ${a.previous})` : ' (new)'}\n`);
            }
          } catch (err) {
            missing = true;
            process.stderr.write(`mcpeg: ${(err as Error).message}\n`);
          }
        }
      }
      process.stdout.write(`${cfg.pinning.lock_file}: updated\n`);
      return failed || missing ? EXIT.FAILURE : EXIT.OK;
    }
    const now = new Date().toISOString();
    const fresh = new Set<string>();
    const pins =
      sub === 'status'
        ? await store.load()
        : await store.update((current) => {
            fresh.clear();
            for (const b of up.keys()) if (!current.has(b)) fresh.add(b);
            if (fresh.size === 0) return undefined;
            const next = new Map(current);
            for (const b of fresh) next.set(b, firstUse(up.get(b)!, now));
            return next;
          });
    const rows = compare(up, pins, fresh);
    return report(rows, cfg, values.json === true, sub === undefined, failed);
  } catch (err) {
    if (err instanceof LockFileError) {
      process.stderr.write(`mcpeg: ${err.message}\n`);
      return EXIT.CONFIG;
    }
    throw err;
  }
}

function usage(msg: string): number {
  process.stderr.write(`mcpeg: ${msg}\n${USAGE}\n`);
  return EXIT.USAGE;
}

/** Enabled backends and plugins without `pinning: off` of their own. */
function pinnable(cfg: Readonly<Config>): Set<string> {
  return new Set([...backendEntries(cfg)].filter(([, e]) => e.cfg.pinning !== 'off').map(([n]) => n));
}

function firstUse(tools: readonly Item[], at: string): Map<string, Pin> {
  const out = new Map<string, Pin>();
  for (const t of tools) {
    if (typeof t.name !== 'string') continue;
    const d = toolDigest(t);
    if (!('error' in d)) out.set(t.name, pinOf(d, at, 'mcpeg pin'));
  }
  return out;
}

/** Each served tool against its pin; pins of tools no longer served show as missing. */
function compare(up: ReadonlyMap<string, readonly Item[]>, pins: PinSet, fresh: ReadonlySet<string>): Row[] {
  const rows: Row[] = [];
  for (const [backend, tools] of up) {
    const entry = pins.get(backend);
    const seen = new Set<string>();
    for (const t of tools) {
      if (typeof t.name !== 'string') continue;
      seen.add(t.name);
      const d = toolDigest(t);
      const pin = entry?.get(t.name);
      if ('error' in d) rows.push({ backend, tool: t.name, status: 'unpinnable' });
      else if (!pin) rows.push({ backend, tool: t.name, status: 'new', digest: d.digest });
      else if (pin.digest !== d.digest) rows.push({ backend, tool: t.name, status: 'changed', digest: d.digest, pinned: pin.digest });
      else rows.push({ backend, tool: t.name, status: fresh.has(backend) ? 'pinned' : 'ok', digest: d.digest });
    }
    for (const [tool, p] of entry ?? []) if (!seen.has(tool)) rows.push({ backend, tool, status: 'missing', pinned: p.digest });
  }
  return rows;
}

function report(rows: Row[], cfg: Readonly<Config>, json: boolean, wrote: boolean, failed: boolean): number {
  const drift = rows.some((r) => r.status === 'changed' || r.status === 'new' || r.status === 'unpinnable');
  if (json) {
    process.stdout.write(`${JSON.stringify({ lockFile: cfg.pinning.lock_file, drift, tools: rows }, null, 2)}\n`);
  } else {
    for (const r of rows) {
      const detail = r.status === 'changed' ? `  pinned ${r.pinned}, served ${r.digest}` : r.status === 'missing' ? '  (pinned, not served now)' : '';
      process.stdout.write(`${r.status.padEnd(10)} ${r.backend}/${r.tool}${detail}\n`);
    }
    process.stdout.write(
      `${cfg.pinning.lock_file}: ${rows.filter((r) => r.status === 'ok' || r.status === 'pinned').length} tool(s) match their pins${wrote ? '' : ' (nothing written)'}\n`,
    );
    if (drift) process.stdout.write('review the tools above, then approve them: mcpeg pin approve <backend>/<tool> (or <backend>, or --all)\n');
  }
  return drift || failed ? EXIT.FAILURE : EXIT.OK;
}

/** Starts each backend once (as the gateway would), lists its tools, stops it. */
async function listTools(cfg: Readonly<Config>, names: readonly string[]): Promise<Map<string, { tools: readonly Item[] } | { error: string }>> {
  const log = silentLogger();
  const entries = backendEntries(cfg);
  const listener: BackendListener = { catalogChanged: () => {}, stateChanged: () => {}, resourceUpdated: () => {} };
  const paths = protectedPaths(cfg);
  const out = new Map<string, { tools: readonly Item[] } | { error: string }>();
  await Promise.all(
    names.map(async (name) => {
      let b: Backend | undefined;
      try {
        b = await buildBackend(name, entries.get(name)!, cfg.paths, { log, listener, protectedPaths: () => paths });
        await b.start();
        out.set(name, b.state === 'up' ? { tools: b.catalog.tools } : { error: b.lastError ?? 'not up' });
      } catch (err) {
        out.set(name, { error: (err as Error).message });
      } finally {
        await b?.stop().catch(() => {});
      }
    }),
  );
  // Config order, so the report reads in a stable order.
  return new Map(names.flatMap((n) => (out.has(n) ? [[n, out.get(n)!] as const] : [])));
}
