/**
 * A command backend's tools: each runs one program (run.ts) with an argument vector
 * filled from the validated arguments. A value is always one argv element, never parsed
 * by a shell: `; rm -rf /` arrives as those nine characters. Exit code 0 gives the output
 * (text, or parsed JSON as structuredContent); anything else an isError result with the
 * exit status and an excerpt of stderr.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CommandBackendConfig, CommandTool } from '../../config/backends.js';
import type { Logger } from '../../observability/logger.js';
import type { PluginInstance, PluginTool, ToolResult } from '../../plugins/api.js';
import { createAjv, describeAjvErrors } from '../../util/json-schema.js';
import { asStructured, excerpt, toolFailure } from '../result.js';
import { parseTemplate, render, wholeRef, type TemplatePart } from '../../config/template.js';
import { ProgramNotFoundError, resolveExecutable, runProgram, type RunResult } from './run.js';

export interface CommandBackendSpec {
  name: string;
  cfg: CommandBackendConfig;
  /** Where relative paths in the config resolve (the config file's directory). */
  baseDir: string;
  workspaceDir: string;
  log: Logger;
  env?: NodeJS.ProcessEnv;
}

type ArgPart = { kind: 'tpl'; parts: TemplatePart[]; whole: string | undefined } | { kind: 'if'; arg: string; then: Array<{ parts: TemplatePart[]; whole: string | undefined }> };

export function commandInstance(spec: CommandBackendSpec): PluginInstance {
  const env = spec.env ?? process.env;
  const base: Record<string, string> = {};
  for (const k of spec.cfg.env_allow) if (env[k] !== undefined) base[k] = env[k]!;
  Object.assign(base, spec.cfg.env);
  const limit = new Semaphore(spec.cfg.max_concurrency);
  const ajv = createAjv();
  const tools: PluginTool[] = Object.entries(spec.cfg.tools).map(([toolName, t]) => {
    const toolEnv = { ...base, ...t.env };
    const key = `backends.${spec.name}.tools.${toolName}`;
    let file: string;
    try {
      file = resolveExecutable(t.command, toolEnv.PATH);
    } catch (err) {
      if (err instanceof ProgramNotFoundError) throw new Error(`${key}.command: ${err.message}`);
      throw err;
    }
    const cwd = resolve(spec.baseDir, t.cwd ?? spec.cfg.cwd ?? spec.workspaceDir);
    if (!t.cwd && !spec.cfg.cwd) mkdirSync(cwd, { recursive: true });
    const argv = compileArgs(t);
    const stdin = t.stdin !== undefined ? parseTemplate(t.stdin) : undefined;
    const checkOutput = t.output_schema ? ajv.compile(t.output_schema) : undefined;
    const timeoutMs = t.timeout ?? spec.cfg.timeout;
    return {
      name: toolName,
      ...(t.title ? { title: t.title } : {}),
      description: t.description || `Runs ${t.command}`,
      inputSchema: t.input_schema,
      ...(t.output_schema ? { outputSchema: t.output_schema } : {}),
      ...(t.annotations ? { annotations: t.annotations } : {}),
      async handler(args, ctx) {
        // Own properties only: an absent "constructor" argument must not read Object.prototype's.
        const get = (ref: string) => (Object.hasOwn(args, ref) && args[ref] !== null ? args[ref] : undefined);
        const argvNow = renderArgs(argv, get);
        // execve takes C strings: a NUL cannot be passed (spawn would throw, reported as a missing program).
        const nul = argvNow.findIndex((a) => a.includes('\0'));
        if (nul >= 0) return toolFailure('MCPEG_ERR_BAD_ARGUMENT', `${toolName}: program argument ${nul + 1} would contain a NUL character, which no program can receive`);
        // Waiting for a slot (max_concurrency) counts against the tool's timeout.
        const deadline = Date.now() + timeoutMs;
        const release = await limit.acquire(ctx.signal, timeoutMs);
        if (!release)
          return toolFailure(
            'MCPEG_ERR_PROGRAM_TIMEOUT',
            `${toolName}: no free slot within ${timeoutMs} ms (max_concurrency ${spec.cfg.max_concurrency} programs already running)`,
          );
        let r: RunResult;
        try {
          r = await runProgram({
            file,
            argv: argvNow,
            ...(stdin ? { stdin: render(stdin, get) ?? '' } : {}),
            env: toolEnv,
            cwd,
            timeoutMs: Math.max(1, deadline - Date.now()),
            maxOutputBytes: spec.cfg.max_output_bytes,
            signal: ctx.signal,
          });
        } catch (err) {
          // execve refused the arguments: one longer than 128 KiB, or all together over ARG_MAX.
          if ((err as NodeJS.ErrnoException).code === 'E2BIG')
            return toolFailure('MCPEG_ERR_BAD_ARGUMENT', `${toolName}: the program arguments are too long for the system (E2BIG); no program ran`);
          // The program or its working directory vanished after start.
          return toolFailure('MCPEG_ERR_PROGRAM_NOT_FOUND', `${toolName}: ${(err as Error).message}`);
        } finally {
          release();
        }
        spec.log.debug({ tool: toolName, exit: r.exitCode, signal: r.signal, ms: r.durationMs, stdoutBytes: r.stdoutBytes, stderrBytes: r.stderrBytes }, 'program finished');
        return outcome(r, t, { toolName, timeoutMs, checkOutput });
      },
    };
  });
  return { tools };
}

function compileArgs(t: CommandTool): ArgPart[] {
  const props = ((t.input_schema as { properties?: Record<string, unknown> }).properties ?? {}) as Record<string, unknown>;
  // Only a property input_schema declares an array spreads into several arguments. An untyped one let a client's array
  // become options: `grep -e {pattern}` given ["x", "--include=..."] (review 33); it is one argument, its JSON.
  const spreads = (ref: string | undefined) => ref !== undefined && Object.hasOwn(props, ref) && declaresArray(props[ref]);
  const tpl = (s: string) => {
    const ref = wholeRef(s);
    return { parts: parseTemplate(s), whole: spreads(ref) ? ref : undefined };
  };
  return t.args.map((a) => (typeof a === 'string' ? { kind: 'tpl', ...tpl(a) } : { kind: 'if', arg: a.if, then: a.then.map(tpl) }));
}

/** One element per template; a whole placeholder of a declared array spreads; an absent value drops its element. */
function renderArgs(argv: ArgPart[], get: (ref: string) => unknown): string[] {
  const out: string[] = [];
  const one = (x: { parts: TemplatePart[]; whole: string | undefined }) => {
    const v = x.whole !== undefined ? get(x.whole) : undefined;
    if (Array.isArray(v)) return v.forEach((e) => out.push(typeof e === 'string' ? e : JSON.stringify(e)));
    const s = render(x.parts, get);
    if (s !== undefined) out.push(s);
  };
  for (const a of argv) {
    if (a.kind === 'tpl') one(a);
    else if (truthy(get(a.arg))) a.then.forEach(one);
  }
  return out;
}

/** The schema's `type` is, or lists, "array". */
function declaresArray(schema: unknown): boolean {
  const type = schema !== null && typeof schema === 'object' ? (schema as { type?: unknown }).type : undefined;
  return type === 'array' || (Array.isArray(type) && type.includes('array'));
}

function truthy(v: unknown): boolean {
  return Array.isArray(v) ? v.length > 0 : v !== undefined && v !== false && v !== 0 && v !== '';
}

function outcome(
  r: RunResult,
  t: CommandTool,
  o: { toolName: string; timeoutMs: number; checkOutput: ReturnType<ReturnType<typeof createAjv>['compile']> | undefined },
): ToolResult {
  const data = { exitCode: r.exitCode, signal: r.signal, durationMs: r.durationMs };
  const err = r.stderr.trim() ? `\nstderr:\n${excerpt(r.stderr.trimEnd(), 4096)}` : '';
  if (r.aborted) return toolFailure('MCPEG_ERR_PROGRAM_FAILED', `${o.toolName}: ${t.command} was stopped because the call was cancelled`, data);
  if (r.timedOut)
    return toolFailure('MCPEG_ERR_PROGRAM_TIMEOUT', `${o.toolName}: ${t.command} did not finish within ${o.timeoutMs} ms; it and everything it started were killed${err}`, data);
  if (r.exitCode !== 0) {
    const how = r.exitCode === null ? `was killed by ${r.signal}` : `exited with status ${r.exitCode}`;
    const out = r.stdout.trim() ? `\nstdout:\n${excerpt(r.stdout.trimEnd(), 4096)}` : '';
    return toolFailure('MCPEG_ERR_PROGRAM_FAILED', `${o.toolName}: ${t.command} ${how}${err}${out}`, data);
  }
  const meta = { 'mcpeg/process': data };
  if (t.output === 'text') return { content: [{ type: 'text', text: r.stdout }], _meta: meta };
  let json: unknown;
  try {
    if (r.stdoutTruncated) throw new Error(`output exceeded max_output_bytes`);
    json = JSON.parse(r.stdout);
  } catch (e) {
    return toolFailure('MCPEG_ERR_OUTPUT_NOT_JSON', `${o.toolName}: ${t.command} printed output that is not JSON (${(e as Error).message}): ${excerpt(r.stdout)}`, data);
  }
  const structured = asStructured(json);
  if (o.checkOutput && !o.checkOutput(structured)) {
    return toolFailure(
      'MCPEG_ERR_OUTPUT_MISMATCH',
      `${o.toolName}: output does not match the output schema (${describeAjvErrors(o.checkOutput.errors)}): ${excerpt(r.stdout)}`,
      data,
    );
  }
  return { content: [{ type: 'text', text: r.stdout }], structuredContent: structured, _meta: meta };
}

/** A counting semaphore: at most `n` programs of a backend run at once; the rest wait (or give up when cancelled). */
class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly n: number) {}
  /** Resolves with a release function, or undefined when no slot freed up within `timeoutMs`. */
  async acquire(signal: AbortSignal, timeoutMs: number): Promise<(() => void) | undefined> {
    if (this.active >= this.n) {
      const got = await new Promise<boolean>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', cancel);
        };
        const go = () => {
          done();
          resolve(true);
        };
        const leave = () => {
          const i = this.waiting.indexOf(go);
          if (i >= 0) this.waiting.splice(i, 1);
          done();
        };
        const cancel = () => {
          leave();
          reject(new Error('cancelled while waiting for a free slot (max_concurrency)'));
        };
        const timer = setTimeout(() => {
          leave();
          resolve(false);
        }, timeoutMs);
        signal.addEventListener('abort', cancel, { once: true });
        this.waiting.push(go);
      });
      if (!got) return undefined;
    } else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next)
        next(); // the slot passes straight to the next waiter
      else this.active--;
    };
  }
}
