/**
 * What the admin API may start: a change that would launch a program the running config
 * does not already launch in the same way (a new or changed `command`, its args, env or
 * cwd, a command tool's input_schema; a plugin module that is not a built-in) is refused
 * unless the program resolves to a path in admin.allowed_commands or admin.allow.programs
 * (privileged.ts). Programs are resolved the way they will be run (absolute path, or a
 * bare name on the PATH the child gets); nothing runs through a shell.
 */
import { realpathSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/schema.js';
import { resolveExecutable } from '../backends/command/run.js';
import { BUILTIN_PLUGINS } from '../plugins/loader.js';

export interface Launch {
  /** Key path of the program in the config, e.g. backends.x.command. */
  where: string;
  program: string;
  /** Everything else that decides what runs (args, env, cwd): a change here counts as new. */
  spec: unknown;
  pathEnv: string | undefined;
}

export function launchesOf(c: Readonly<Config>): Launch[] {
  const out: Launch[] = [];
  for (const [name, b] of Object.entries(c.backends)) {
    if (b.type === 'mcp') {
      if (b.command) out.push({ where: `backends.${name}.command`, program: b.command, spec: [b.args, b.env, b.cwd], pathEnv: b.env.PATH ?? process.env.PATH });
      b.replicas?.forEach((r, i) =>
        out.push({
          where: `backends.${name}.replicas.${i}.command`,
          program: r.command,
          spec: [r.args, b.env, r.env, r.cwd ?? b.cwd],
          pathEnv: r.env.PATH ?? b.env.PATH ?? process.env.PATH,
        }),
      );
    } else if (b.type === 'command') {
      for (const [tool, t] of Object.entries(b.tools)) {
        const pathEnv = t.env.PATH ?? b.env.PATH ?? (b.env_allow.includes('PATH') ? process.env.PATH : undefined);
        // input_schema too: it is what keeps a client's value from becoming options of the
        // program (a pattern), or several arguments (an array spread by a whole placeholder).
        out.push({
          where: `backends.${name}.tools.${tool}.command`,
          program: t.command,
          spec: [t.args, t.stdin, t.env, t.cwd, b.env, b.env_allow, b.cwd, t.input_schema],
          pathEnv,
        });
      }
    }
  }
  c.plugins.forEach((p, i) => {
    const spec = p.module ?? p.name;
    if (!BUILTIN_PLUGINS.includes(spec)) out.push({ where: `plugins.${i}.module`, program: spec, spec: null, pathEnv: undefined });
  });
  return out;
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** The path a program resolves to, or undefined when it resolves to none. */
function resolveProgram(l: Launch): string | undefined {
  if (l.where.startsWith('plugins.')) return l.program.startsWith('/') ? l.program : undefined;
  try {
    return resolveExecutable(l.program, l.pathEnv);
  } catch {
    return undefined;
  }
}

/** Launches in `next` that the running config does not have, and are not allow-listed: one problem each. */
export function refusedLaunches(current: Readonly<Config>, next: Readonly<Config>, allowed: readonly string[]): Array<{ path: string; why: string }> {
  const known = launchesOf(current);
  const allowedReal = new Set(allowed.flatMap((a) => [a, real(a)]));
  const problems: Array<{ path: string; why: string }> = [];
  for (const l of launchesOf(next)) {
    if (known.some((k) => k.program === l.program && isDeepStrictEqual(k.spec, l.spec))) continue;
    const path = resolveProgram(l);
    if (path !== undefined && (allowedReal.has(path) || allowedReal.has(real(path)))) continue;
    problems.push({ path: l.where, why: `starts ${JSON.stringify(l.program)}${path && path !== l.program ? ` (${path})` : ''}, which is not an allowed program` });
  }
  return problems;
}
