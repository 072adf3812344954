/**
 * Whether a plugin's config change widens what MCP clients reach through it. Each
 * built-in plugin's keys have a rule: `free` (a limit, a default: no reach), `roots`
 * (every new root must lie inside a running one, by real path; for the editor, also where
 * the running deny list still covers everything it covered, see deniedInside), `more` (a deny list:
 * nothing may be dropped), `on`/`off` (a switch that may only be turned the narrowing
 * way, e.g. git safe_mode may only be turned on). A key without a rule — any key of a
 * third-party plugin, whose meaning only its code knows, or a key a built-in gains later —
 * is privileged whenever it changes. A plugin that is new (or enabled, or now another
 * module) is compared with no plugin at all: editor and git reach the workspace with no
 * config, so adding one is privileged; memory reaches only its own data directory.
 */
import { realpathSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { Config, PluginConfig } from '../config/schema.js';
import { DEFAULT_DENY } from '../plugins/editor/fs-contain.js';
import { DenyList } from '../plugins/editor/fs-deny.js';
import { BUILTIN_PLUGINS } from '../plugins/loader.js';
import { compileGlob } from '../util/glob.js';

type Settings = Readonly<Record<string, unknown>>;
/** `roots` with `deny`: the plugin matches that deny list on paths relative to its roots (the editor). */
type Rule =
  | { kind: 'free' }
  | { kind: 'roots'; deny?: (c: Settings) => readonly unknown[] }
  | { kind: 'more'; effective: (c: Settings) => readonly unknown[] }
  | { kind: 'on' | 'off'; default: boolean };

const FREE: Rule = { kind: 'free' };
const ROOTS: Rule = { kind: 'roots' };
const arr = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);
/** The editor's deny list is `deny` (default DEFAULT_DENY) plus `extra_deny`: one list, whichever key holds a pattern. */
const editorDeny = (c: Settings): readonly unknown[] => [...(Array.isArray(c.deny) ? c.deny : DEFAULT_DENY), ...arr(c.extra_deny)];
const EDITOR_DENY: Rule = { kind: 'more', effective: editorDeny };
const EDITOR_ROOTS: Rule = { kind: 'roots', deny: editorDeny };

const RULES: Readonly<Record<string, Readonly<Record<string, Rule>>>> = {
  editor: { roots: EDITOR_ROOTS, deny: EDITOR_DENY, extra_deny: EDITOR_DENY, max_read_bytes: FREE, max_write_bytes: FREE, backups: FREE },
  git: {
    roots: ROOTS,
    safe_mode: { kind: 'on', default: true },
    allow_hooks: { kind: 'off', default: false },
    init_workspace: { kind: 'off', default: true },
    timeout_ms: FREE,
    max_output_bytes: FREE,
    max_processes: FREE,
    // The files git_add never stages: the editor's list and rule (dropping a pattern widens).
    deny: EDITOR_DENY,
    extra_deny: EDITOR_DENY,
  },
  memory: { max_keys: FREE, max_value_bytes: FREE, max_total_bytes: FREE },
};

/** Built-ins that reach nothing but their own data directory with any config. */
const NO_REACH: ReadonlySet<string> = new Set(['memory']);

export interface ReachProblem {
  /** Key path in the next config, e.g. plugins.0.config.roots. */
  path: string;
  why: string;
}

const kindOf = (p: PluginConfig) => p.module ?? p.name;
const isBuiltin = (p: PluginConfig) => BUILTIN_PLUGINS.includes(kindOf(p));

function real(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

const inside = (p: string, root: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);

/** Roots as the plugin resolves them (against paths.base; default the workspace), by real path. */
function roots(c: Settings, paths: Config['paths']): Array<string | undefined> {
  const list = Array.isArray(c.roots) ? c.roots.filter((r): r is string => typeof r === 'string') : [paths.workspace];
  return list.map((r) => real(resolve(paths.base!, r)));
}

function keyProblem(rule: Rule | undefined, key: string, cur: Settings, next: Settings, current: Readonly<Config>, nextCfg: Readonly<Config>): string | undefined {
  if (rule?.kind === 'free') return undefined;
  if (rule?.kind === 'roots') {
    const running = roots(cur, current.paths).filter((r): r is string => r !== undefined);
    const wider = roots(next, nextCfg.paths).map((r, i) =>
      r !== undefined && running.some((root) => inside(r, root)) ? undefined : (arr(next.roots)[i] ?? nextCfg.paths.workspace),
    );
    const bad = wider.filter((r) => r !== undefined);
    if (bad.length) return `${JSON.stringify(bad)} ${bad.length > 1 ? 'are' : 'is'} not inside the running roots (or does not exist)`;
    if (!rule.deny) return undefined;
    const hidden = roots(next, nextCfg.paths).flatMap((r, i) => (r !== undefined && deniedInside(r, running, rule.deny!(cur)) ? [arr(next.roots)[i] ?? r] : []));
    return hidden.length
      ? `${JSON.stringify(hidden)} would uncover what the running deny list hides: it is matched on paths relative to the root, and ${hidden.length > 1 ? 'these roots lie' : 'this root lies'} in a denied directory or inside a pattern of several segments`
      : undefined;
  }
  if (rule?.kind === 'more') {
    const now = rule.effective(next);
    const dropped = rule.effective(cur).filter((x) => !now.some((y) => isDeepStrictEqual(x, y)));
    return dropped.length ? `drops ${JSON.stringify(dropped)} from the deny list` : undefined;
  }
  if (rule?.kind === 'on' || rule?.kind === 'off') {
    const was = cur[key] ?? rule.default;
    const is = next[key] ?? rule.default;
    const widening = rule.kind === 'on' ? was === true && is !== true : was !== true && is === true;
    return widening ? `turns ${key} ${rule.kind === 'on' ? 'off' : 'on'}` : undefined;
  }
  return isDeepStrictEqual(cur[key], next[key])
    ? undefined
    : 'changes a setting whose effect on what the plugin reaches is not known (third-party plugin, or a key without a rule)';
}

/** How the plugins of `next` reach further than those of `current`: one problem per key. */
export function pluginReachProblems(current: Readonly<Config>, next: Readonly<Config>): Array<ReachProblem & { plugin: string }> {
  const out: Array<ReachProblem & { plugin: string }> = [];
  next.plugins.forEach((p, i) => {
    if (!p.enabled) return;
    const at = `plugins.${i}`;
    const before = current.plugins.find((c) => c.name === p.name && c.enabled && kindOf(c) === kindOf(p));
    const rules = isBuiltin(p) ? (RULES[kindOf(p)] ?? {}) : {};
    if (!before && !(isBuiltin(p) && NO_REACH.has(kindOf(p)))) {
      out.push({
        plugin: p.name,
        path: at,
        why: `adds (or enables) plugin "${p.name}" (${kindOf(p)}), which reaches ${isBuiltin(p) ? 'the workspace or its roots' : 'whatever its code does'}`,
      });
      return;
    }
    const cur = before?.config ?? {};
    const seen = new Set<Rule>();
    for (const key of new Set([...Object.keys(cur), ...Object.keys(p.config)])) {
      const rule = Object.hasOwn(rules, key) ? rules[key] : undefined;
      // Two keys that make one list (editor deny + extra_deny) report once.
      if (rule && seen.has(rule)) continue;
      const why = keyProblem(rule, key, cur, p.config, current, next);
      if (why) {
        out.push({ plugin: p.name, path: `${at}.config.${key}`, why });
        if (rule) seen.add(rule);
      }
    }
  });
  return out;
}

/**
 * Whether a root at `r` (a real path inside a running root) could serve a file the running
 * deny list hides. The list is matched on the path relative to each root holding the file,
 * so a root further down drops the leading segments: with `r` at `<root>/.aws`,
 * `.aws/credentials` is `credentials`, which `.aws/**` no longer matches. For each running
 * root strictly above `r`, with `p` the segments from it down to `r`: a match that starts
 * inside the file's part of its path still matches from `r` (the list may only grow), one
 * that ends inside `p` denies `p` itself, and what is left is a match that starts inside `p`
 * and goes on past it (`config/prod/**` with `r` at `<root>/config`): crosses().
 */
function deniedInside(r: string, running: readonly string[], patterns: readonly unknown[]): boolean {
  const list = patterns.filter((x): x is string => typeof x === 'string');
  const deny = new DenyList(list);
  for (const root of running) {
    if (root === r || !inside(r, root)) continue;
    const p = relative(root, r).split(sep);
    if (deny.matches(p.join('/')) !== undefined || list.some((x) => crosses(x, p))) return true;
  }
  return false;
}

/**
 * Whether a match of the glob could start at a segment of `p` (its first only, when anchored)
 * and go on past `p`'s end. Conservative: a `**` met on the way counts as going on.
 */
function crosses(pattern: string, p: readonly string[]): boolean {
  let anchored = pattern.startsWith('/');
  const segs = pattern.split('/').filter((x) => x !== '');
  // The glob drops a leading "./"; a leading "**/" matches at any depth, as an unanchored pattern does.
  while (segs[0] === '.' || segs[0] === '**') if (segs.shift() === '**') anchored = false;
  if (segs.length < 2) return false;
  // Braces, classes and escapes may hold a "/", dot segments move others: which segments they make is not decided here.
  if (/[{}[\]\\]/.test(pattern) || segs.some((x) => x === '.' || x === '..')) return true;
  const matches = (g: string, text: string) => {
    try {
      return compileGlob(g, { ignoreCase: true })(text);
    } catch {
      return true;
    }
  };
  for (let start = 0; start < (anchored ? 1 : p.length); start++) {
    let i = 0;
    let j = start;
    for (;;) {
      if (i === segs.length) break; // the whole pattern inside p: p itself is denied (checked apart)
      if (segs[i] === '**' || j === p.length) return true;
      if (!matches(segs[i]!, p[j]!)) break;
      i++;
      j++;
    }
  }
  return false;
}
