/**
 * The `command` backend end to end: tools mapped to real programs, called through the
 * gateway with the official SDK client. Arguments are argv elements (never a shell), the
 * environment is exactly what the config allows, timeouts kill the whole process tree,
 * output is capped, failures are isError results with a catalogue code.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf, waitFor } from '../helpers/gateway.js';

const NODE = process.execPath;
const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-cmd-e2e-')));
const paths = { base: dir, data: 'data', workspace: 'workspace' };

/** Prints what the program received: argv, stdin, environment, working directory. */
const REPORT = join(dir, 'report.mjs');
writeFileSync(
  REPORT,
  `let stdin = '';
for await (const c of process.stdin) stdin += c;
process.stdout.write(JSON.stringify({ argv: process.argv.slice(2), stdin, env: process.env, cwd: process.cwd() }));
`,
);
/**
 * A meeting point for concurrent runs: registers itself in directory argv[2], waits until
 * argv[3] runs are registered there (or argv[4] ms pass), leaves, and prints when it
 * started and ended and the most runs it saw at once (itself included).
 */
const MEET = join(dir, 'meet.mjs');
writeFileSync(
  MEET,
  `import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
const [where, n, wait] = process.argv.slice(2);
mkdirSync(where, { recursive: true });
const me = where + '/' + process.pid;
const start = Date.now();
writeFileSync(me, '');
let seen = 0;
for (;;) {
  seen = Math.max(seen, readdirSync(where).length);
  if (seen >= Number(n) || Date.now() - start > Number(wait)) break;
  await new Promise((r) => setTimeout(r, 10));
}
rmSync(me);
process.stdout.write(JSON.stringify({ start, end: Date.now(), seen }));
`,
);
/** Starts a background grandchild, writes "<own pid> <grandchild pid>" to $1, then waits. */
const TREE_SH = join(dir, 'tree.sh');
writeFileSync(TREE_SH, '#!/bin/sh\nsleep 30 &\necho "$$ $!" > "$1.tmp" && mv "$1.tmp" "$1"\nsleep 30\n');
chmodSync(TREE_SH, 0o755);
/** Leaves a background job holding stdout, writes "<own pid> <job pid>" to $1, exits 0. */
const BG_SH = join(dir, 'bg.sh');
writeFileSync(BG_SH, '#!/bin/sh\nsleep 30 &\necho "$$ $!" > "$1.tmp" && mv "$1.tmp" "$1"\necho done\n');
chmodSync(BG_SH, 0o755);
/** Prints to both streams and exits 7. */
const FAIL_SH = join(dir, 'fail.sh');
writeFileSync(FAIL_SH, 'echo "partial output"\necho "boom: $1" >&2\nexit 7\n');
mkdirSync(join(dir, 'sub'));
mkdirSync(join(dir, 'backend-dir'));
mkdirSync(join(dir, 'abs dir'));

after(() => rmSync(dir, { recursive: true, force: true }));

type Result = Awaited<ReturnType<Client['callTool']>>;
type Report = { argv: string[]; stdin: string; env: Record<string, string>; cwd: string };

const errorCode = (r: Result) => (r._meta as Record<string, { code?: string }> | undefined)?.['mcpeg/error']?.code;
const errorMeta = (r: Result) => (r._meta as Record<string, Record<string, unknown>> | undefined)?.['mcpeg/error'] ?? {};
const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required });
const str = { type: 'string' };

/** Alive = signalable and not a zombie (an orphan's reaper may be slow in a container). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false; // vanished between the two checks
  }
}

const DEFAULT_ENV_ALLOW = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];
const meetTool = {
  command: NODE,
  args: [MEET, '{dir}', '{n}', '{wait}'],
  output: 'json',
  input_schema: obj({ dir: str, n: { type: 'integer' }, wait: { type: 'integer' } }, ['dir', 'n', 'wait']),
};
const reportTool = (extra: Record<string, unknown> = {}) => ({ command: NODE, args: [REPORT], output: 'json', ...extra });

describe('command backend through the gateway', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  const saved = { secret: process.env.CMD_E2E_SECRET, allowed: process.env.CMD_E2E_ALLOWED, unset: process.env.CMD_E2E_UNSET };

  before(async () => {
    // The gateway's own environment: one secret no program may see, one explicitly allowed name.
    process.env.CMD_E2E_SECRET = 'hunter2';
    process.env.CMD_E2E_ALLOWED = 'visible';
    delete process.env.CMD_E2E_UNSET;
    gw = await startGateway({
      paths,
      backends: {
        cmd: {
          type: 'command',
          env: { FROM_BACKEND: 'b' },
          tools: {
            argv: reportTool({
              args: [REPORT, '{text}', 'pre-{text}-post', '{items}', '{count}', '{opt}', { if: 'flag', then: ['--flag', '--level={level}'] }, 'end'],
              input_schema: obj({ text: str, items: { type: 'array', items: str }, count: { type: 'integer' }, opt: str, flag: { type: 'boolean' }, level: str }, ['text']),
            }),
            stdin: reportTool({ stdin: 'Hello {name}!\n{{literal}} {name}\n', input_schema: obj({ name: str }, ['name']) }),
            nostdin: reportTool(),
            env: reportTool({ env: { FROM_TOOL: 't' } }),
            here: reportTool(),
            there: reportTool({ cwd: 'sub' }),
            absolute: reportTool({ cwd: join(dir, 'abs dir') }),
            nowhere: reportTool({ cwd: 'no-such-dir' }),
            text: { command: 'printf', args: ['%s', '{text}'], input_schema: obj({ text: str }, ['text']) },
            json: { command: 'printf', args: ['%s', '{text}'], output: 'json', input_schema: obj({ text: str }, ['text']) },
            typed: {
              command: 'printf',
              args: ['%s', '{text}'],
              output: 'json',
              input_schema: obj({ text: str }, ['text']),
              output_schema: obj({ n: { type: 'number' } }, ['n']),
            },
            fail: { command: '/bin/sh', args: [FAIL_SH, '{reason}'], input_schema: obj({ reason: str }, ['reason']) },
            killed: { command: '/bin/sh', args: ['-c', 'kill -9 $$'] },
            bg: { command: BG_SH, args: ['{pidfile}'], input_schema: obj({ pidfile: str }, ['pidfile']) },
            tree: { command: TREE_SH, args: ['{pidfile}'], timeout: '700ms', input_schema: obj({ pidfile: str }, ['pidfile']) },
          },
        },
        bcwd: { type: 'command', cwd: 'backend-dir', tools: { where: reportTool(), override: reportTool({ cwd: 'sub' }) } },
        secure: {
          type: 'command',
          env_allow: ['PATH', 'CMD_E2E_ALLOWED', 'CMD_E2E_UNSET'],
          env: { CONFIGURED: 'yes', PATH: '/usr/bin:/bin' },
          tools: { env: reportTool({ env: { TOOL_ONLY: '1' } }) },
        },
        small: {
          type: 'command',
          max_output_bytes: 1000,
          tools: {
            big: { command: 'printf', args: ['%s', '{text}'], input_schema: obj({ text: str }, ['text']) },
            bigjson: { command: 'printf', args: ['%s', '{text}'], output: 'json', input_schema: obj({ text: str }, ['text']) },
          },
        },
        serial: { type: 'command', max_concurrency: 1, tools: { meet: meetTool } },
        parallel: { type: 'command', max_concurrency: 2, tools: { meet: meetTool } },
      },
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    for (const [k, v] of [
      ['CMD_E2E_SECRET', saved.secret],
      ['CMD_E2E_ALLOWED', saved.allowed],
      ['CMD_E2E_UNSET', saved.unset],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const call = (name: string, args: Record<string, unknown> = {}) => client.callTool({ name, arguments: args });
  const report = async (name: string, args: Record<string, unknown> = {}): Promise<Report> => {
    const r = await call(name, args);
    assert.equal(r.isError, undefined, textOf(r));
    return r.structuredContent as Report;
  };

  it('lists the tools namespaced, with their schemas', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of ['cmd__argv', 'cmd__tree', 'secure__env', 'small__big', 'serial__meet', 'parallel__meet', 'bcwd__where'])
      assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    const typed = tools.find((t) => t.name === 'cmd__typed')!;
    assert.deepEqual(typed.outputSchema, obj({ n: { type: 'number' } }, ['n']));
    assert.deepEqual(typed.inputSchema.required, ['text']);
  });

  describe('arguments become literal argv elements', () => {
    const hostile = ['; rm -rf /', '$(id)', '`id`', '--help', 'a b', '*', '', "'quoted'", '"dq"', 'line\nbreak', '{text}', '${HOME}', '|cat /etc/passwd', 'é🙂'];
    for (const value of hostile) {
      it(`${JSON.stringify(value)} arrives as one element, untouched`, async () => {
        const r = await report('cmd__argv', { text: value });
        assert.deepEqual(r.argv, [value, `pre-${value}-post`, 'end']);
      });
    }

    it('a whole-placeholder array spreads into several elements; numbers are rendered', async () => {
      const r = await report('cmd__argv', { text: 'x', items: ['a b', '$(id)', '--x', ''], count: 3, opt: 'o' });
      assert.deepEqual(r.argv, ['x', 'pre-x-post', 'a b', '$(id)', '--x', '', '3', 'o', 'end']);
    });

    it('an empty array adds nothing; an absent optional argument drops its element', async () => {
      assert.deepEqual((await report('cmd__argv', { text: 'x', items: [] })).argv, ['x', 'pre-x-post', 'end']);
      assert.deepEqual((await report('cmd__argv', { text: 'x', count: 0 })).argv, ['x', 'pre-x-post', '0', 'end']);
    });

    it('{if, then} adds its elements only when the flag is true (and drops a then-element whose argument is absent)', async () => {
      assert.deepEqual((await report('cmd__argv', { text: 'x', flag: true, level: 'hi' })).argv, ['x', 'pre-x-post', '--flag', '--level=hi', 'end']);
      assert.deepEqual((await report('cmd__argv', { text: 'x', flag: true })).argv, ['x', 'pre-x-post', '--flag', 'end']);
      assert.deepEqual((await report('cmd__argv', { text: 'x', flag: false, level: 'hi' })).argv, ['x', 'pre-x-post', 'end']);
      assert.deepEqual((await report('cmd__argv', { text: 'x', level: 'hi' })).argv, ['x', 'pre-x-post', 'end']);
    });

    it('arguments are validated against input_schema before anything runs (-32602)', async () => {
      await assert.rejects(call('cmd__argv', { items: ['a'] }), (err: Error & { code?: number }) => {
        assert.equal(err.code, -32602);
        assert.match(err.message, /text/);
        return true;
      });
      await assert.rejects(call('cmd__argv', { text: 'x', count: 'three' }), (err: Error & { code?: number }) => err.code === -32602);
    });
  });

  describe('stdin and environment', () => {
    it('the stdin template is rendered and delivered; without one, stdin is empty', async () => {
      assert.equal((await report('cmd__stdin', { name: 'Ada; $(id)' })).stdin, 'Hello Ada; $(id)!\n{literal} Ada; $(id)\n');
      assert.equal((await report('cmd__nostdin')).stdin, '');
    });

    it('default env_allow: only those names from the gateway environment, plus backend and tool env', async () => {
      const { env } = await report('cmd__env');
      const expected: Record<string, string> = {};
      for (const k of DEFAULT_ENV_ALLOW) if (process.env[k] !== undefined) expected[k] = process.env[k]!;
      Object.assign(expected, { FROM_BACKEND: 'b', FROM_TOOL: 't' });
      assert.deepEqual(env, expected);
      assert.equal(env.CMD_E2E_SECRET, undefined);
    });

    it("the tool env does not leak into the backend's other tools", async () => {
      const { env } = await report('cmd__nostdin');
      assert.equal(env.FROM_TOOL, undefined);
      assert.equal(env.FROM_BACKEND, 'b');
    });

    it('custom env_allow: allowed names that are set, configured env (overriding), nothing else', async () => {
      const { env } = await report('secure__env');
      assert.deepEqual(env, { PATH: '/usr/bin:/bin', CMD_E2E_ALLOWED: 'visible', CONFIGURED: 'yes', TOOL_ONLY: '1' });
    });
  });

  describe('working directory', () => {
    it('defaults to the workspace, which is created', async () => {
      assert.equal((await report('cmd__here')).cwd, join(dir, 'workspace'));
    });

    it('a tool cwd resolves against the config directory; absolute paths are kept', async () => {
      assert.equal((await report('cmd__there')).cwd, join(dir, 'sub'));
      assert.equal((await report('cmd__absolute')).cwd, join(dir, 'abs dir'));
    });

    it('a backend cwd applies to its tools; a tool cwd overrides it', async () => {
      assert.equal((await report('bcwd__where')).cwd, join(dir, 'backend-dir'));
      assert.equal((await report('bcwd__override')).cwd, join(dir, 'sub'));
    });

    it('a missing cwd is an isError result that names the directory', async () => {
      const r = await call('cmd__nowhere');
      assert.equal(r.isError, true);
      assert.match(textOf(r), /working directory ".*no-such-dir" does not exist/);
    });
  });

  describe('results', () => {
    it("text output is the program's stdout, exactly, with process data in _meta", async () => {
      const r = await call('cmd__text', { text: '  two\nlines  ' });
      assert.equal(r.isError, undefined);
      assert.equal(textOf(r), '  two\nlines  ');
      assert.equal(r.structuredContent, undefined);
      const proc = (r._meta as Record<string, { exitCode?: number }> | undefined)?.['mcpeg/process'];
      assert.equal(proc?.exitCode, 0);
    });

    it('output: json gives structuredContent; arrays and scalars are wrapped as {result}', async () => {
      const o = await call('cmd__json', { text: '{"a":1,"b":[true,null]}' });
      assert.deepEqual(o.structuredContent, { a: 1, b: [true, null] });
      assert.equal(textOf(o), '{"a":1,"b":[true,null]}');
      assert.deepEqual((await call('cmd__json', { text: '[1,"two"]' })).structuredContent, { result: [1, 'two'] });
      assert.deepEqual((await call('cmd__json', { text: '42' })).structuredContent, { result: 42 });
      assert.deepEqual((await call('cmd__json', { text: 'null' })).structuredContent, { result: null });
    });

    it('output: json with output that is not JSON: MCPEG_ERR_OUTPUT_NOT_JSON', async () => {
      const r = await call('cmd__json', { text: 'hello, not json' });
      assert.equal(r.isError, true);
      assert.equal(errorCode(r), 'MCPEG_ERR_OUTPUT_NOT_JSON');
      assert.match(textOf(r), /json: printf printed output that is not JSON .*hello, not json/);
      assert.equal(r.structuredContent, undefined);
    });

    it('output_schema: a match passes (and the SDK client accepts it); a mismatch is MCPEG_ERR_OUTPUT_MISMATCH', async () => {
      const ok = await call('cmd__typed', { text: '{"n":5}' });
      assert.equal(ok.isError, undefined);
      assert.deepEqual(ok.structuredContent, { n: 5 });
      const bad = await call('cmd__typed', { text: '{"n":"five"}' });
      assert.equal(bad.isError, true);
      assert.equal(errorCode(bad), 'MCPEG_ERR_OUTPUT_MISMATCH');
      assert.match(textOf(bad), /output does not match the output schema.*n/);
      assert.equal(errorCode(await call('cmd__typed', { text: '{}' })), 'MCPEG_ERR_OUTPUT_MISMATCH');
    });

    it('non-zero exit: MCPEG_ERR_PROGRAM_FAILED with the status and excerpts of stderr and stdout', async () => {
      const r = await call('cmd__fail', { reason: 'disk on fire' });
      assert.equal(r.isError, true);
      assert.equal(errorCode(r), 'MCPEG_ERR_PROGRAM_FAILED');
      assert.equal(errorMeta(r).exitCode, 7);
      const text = textOf(r);
      assert.match(text, /exited with status 7/);
      assert.match(text, /stderr:\nboom: disk on fire/);
      assert.match(text, /stdout:\npartial output/);
    });

    it('killed by a signal: MCPEG_ERR_PROGRAM_FAILED naming the signal', async () => {
      const r = await call('cmd__killed');
      assert.equal(r.isError, true);
      assert.equal(errorCode(r), 'MCPEG_ERR_PROGRAM_FAILED');
      assert.match(textOf(r), /was killed by SIGKILL/);
      assert.equal(errorMeta(r).signal, 'SIGKILL');
      assert.equal(errorMeta(r).exitCode, null);
    });

    it('output over max_output_bytes is cut, with the truncation marker', async () => {
      const r = await call('small__big', { text: 'x'.repeat(5000) });
      assert.equal(r.isError, undefined);
      assert.equal(textOf(r), `${'x'.repeat(1000)}\n[output truncated: 5000 bytes, showing the first 1000]`);
      const under = await call('small__big', { text: 'y'.repeat(1000) });
      assert.equal(textOf(under), 'y'.repeat(1000));
    });

    it('a truncated output: json answer is not parsed: MCPEG_ERR_OUTPUT_NOT_JSON', async () => {
      const r = await call('small__bigjson', { text: JSON.stringify({ s: 'z'.repeat(2000) }) });
      assert.equal(r.isError, true);
      assert.equal(errorCode(r), 'MCPEG_ERR_OUTPUT_NOT_JSON');
      assert.match(textOf(r), /max_output_bytes/);
    });
  });

  describe('timeout', () => {
    it('kills the program and the grandchild it started; answers quickly with MCPEG_ERR_PROGRAM_TIMEOUT', async () => {
      const pidfile = join(dir, 'tree.pids');
      const t0 = Date.now();
      const r = await call('cmd__tree', { pidfile });
      const elapsed = Date.now() - t0;
      assert.equal(r.isError, true, textOf(r));
      assert.equal(errorCode(r), 'MCPEG_ERR_PROGRAM_TIMEOUT');
      assert.match(textOf(r), /tree: .*tree\.sh did not finish within 700 ms; it and everything it started were killed/);
      assert.ok(elapsed >= 650, `answered after ${elapsed} ms, before the timeout`);
      assert.ok(elapsed < 5000, `answered after ${elapsed} ms`);
      assert.ok(existsSync(pidfile), 'the script wrote its pids');
      const pids = readFileSync(pidfile, 'utf8').trim().split(/\s+/).map(Number);
      assert.equal(pids.length, 2);
      assert.ok(
        pids.every((p) => Number.isInteger(p) && p > 1),
        `pids ${pids.join(' ')}`,
      );
      await waitFor(() => pids.every((p) => !isAlive(p)), `pids ${pids.join(', ')} to be gone`, 3000, 25);
    });
  });

  describe('background jobs', () => {
    it('a program that exits leaving a job holding its stdout is answered promptly; the job is killed', async () => {
      const pidfile = join(dir, 'bg.pids');
      const t0 = Date.now();
      const r = await call('cmd__bg', { pidfile });
      const elapsed = Date.now() - t0;
      assert.equal(r.isError, undefined, textOf(r));
      assert.equal(textOf(r), 'done\n');
      assert.ok(elapsed < 3000, `answered after ${elapsed} ms`);
      const pids = readFileSync(pidfile, 'utf8').trim().split(/\s+/).map(Number);
      assert.equal(pids.length, 2);
      await waitFor(() => pids.every((p) => !isAlive(p)), `pids ${pids.join(', ')} to be gone`, 3000, 25);
    });
  });

  describe('max_concurrency', () => {
    type Meeting = { start: number; end: number; seen: number };
    let meetings = 0;
    /** n concurrent calls that wait (up to waitMs) until `quorum` runs are in progress at once. */
    const meet = async (tool: string, n: number, quorum: number, waitMs: number): Promise<Meeting[]> => {
      const where = join(dir, `meeting-${++meetings}`);
      const rs = await Promise.all(Array.from({ length: n }, () => call(tool, { dir: where, n: quorum, wait: waitMs })));
      for (const r of rs) assert.equal(r.isError, undefined, textOf(r));
      return rs.map((r) => r.structuredContent as Meeting).sort((a, b) => a.start - b.start);
    };

    /** The largest number of runs in progress at one time, from their own clocks. */
    const maxOverlap = (ms: Meeting[]) => {
      const ev = ms
        .flatMap(
          (m) =>
            [
              [m.start, 1],
              [m.end, -1],
            ] as const,
        )
        .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
      let cur = 0;
      let max = 0;
      for (const [, d] of ev) max = Math.max(max, (cur += d));
      return max;
    };

    it('1: two concurrent calls do not overlap', async () => {
      const [a, b] = await meet('serial__meet', 2, 2, 500);
      assert.equal(a.seen, 1, 'the first run never saw the second');
      assert.equal(b.seen, 1, 'the second run never saw the first');
      assert.ok(a.end <= b.start, `overlap: ${JSON.stringify([a, b])}`);
    });

    it('2: two concurrent calls overlap; of three, one waits for a free slot', async () => {
      // One run saw the other's marker, which exists only while that run is in progress.
      const [a, b] = await meet('parallel__meet', 2, 2, 10_000);
      assert.equal(Math.max(a.seen, b.seen), 2, `the runs met: ${JSON.stringify([a, b])}`);
      assert.ok(b.start < a.end, `overlap: ${JSON.stringify([a, b])}`);
      // Three calls wanting a quorum of three: never more than two at once, but two.
      const three = await meet('parallel__meet', 3, 3, 1500);
      assert.equal(Math.max(...three.map((m) => m.seen)), 2, JSON.stringify(three));
      assert.ok(maxOverlap(three) <= 2, JSON.stringify(three));
    });
  });
});

describe('a command backend whose program does not exist', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    gw = await startGateway({
      paths,
      backends: {
        broken: { type: 'command', tools: { fine: { command: 'printf', args: ['ok'] }, missing: { command: 'mcpeg-no-such-program' } } },
        gone: { type: 'command', tools: { t: { command: join(dir, 'no', 'such', 'prog') } } },
        noexec: { type: 'command', tools: { t: { command: REPORT } } },
        good: { type: 'command', tools: { echo: { command: 'printf', args: ['%s', '{text}'], input_schema: obj({ text: str }, ['text']) } } },
      },
    });
  });
  after(() => gw?.close());

  it('fails to start, naming the key path in /health; the other backends keep serving', async () => {
    const res = await fetch(`${gw.base}/health`);
    assert.equal(res.status, 503);
    const health = (await res.json()) as { status: string; backends: Array<{ name: string; state: string; error?: string }> };
    assert.equal(health.status, 'degraded');
    const by = (n: string) => health.backends.find((b) => b.name === n)!;
    assert.notEqual(by('broken').state, 'up');
    assert.match(by('broken').error ?? '', /backends\.broken\.tools\.missing\.command: .*"mcpeg-no-such-program".*not found on PATH/);
    assert.match(by('gone').error ?? '', /backends\.gone\.tools\.t\.command: .*no\/such\/prog.*not found or not executable/);
    assert.match(by('noexec').error ?? '', /backends\.noexec\.tools\.t\.command: .*report\.mjs.*not found or not executable/);
    assert.equal(by('good').state, 'up');
    assert.equal(by('good').error, undefined);

    const client = await connectClient(gw.url);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      assert.deepEqual(names, ['good__echo']);
      assert.equal(textOf(await client.callTool({ name: 'good__echo', arguments: { text: 'still serving' } })), 'still serving');
      const r = await client.callTool({ name: 'broken__fine', arguments: {} }).catch((e: Error) => e);
      assert.ok(r instanceof Error || r.isError === true, 'a tool of the broken backend is not served');
    } finally {
      await client.close();
    }
  });
});
