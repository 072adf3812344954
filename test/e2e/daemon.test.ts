/**
 * Process management through the real CLI (issue 8, acceptance 1–3): a real daemon is
 * started, then `status`, `reload` (the change takes effect), `log-rotate` (a new file, the
 * old one gzipped and readable with gunzip), `restart` (new pid, same port) and `stop`
 * (process gone, pid file removed); a second start on the same pid file is refused and a
 * stale one replaced; SIGTERM during a slow tool call lets it finish, refuses new
 * connections and exits 0 within the deadline; dev mode reloads the file when it changes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { isAlive, readPid, stateFileOf } from '../../src/cli/pidfile.js';
import { CLI, connectClient, freePort, waitFor } from '../helpers/gateway.js';
import { startRecorder, type HttpRecorder } from '../helpers/http-recorder.js';

const root = mkdtempSync(join(tmpdir(), 'mcpeg-daemon-'));
/** Every gateway pid seen, killed in after() if still alive. */
const pids = new Set<number>();
const children = new Set<ChildProcess>();
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MCPEG_')));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `mcpeg ...args` to its end. */
function mcpeg(args: string[], cwd = root, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += String(d)));
    p.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`mcpeg ${args.join(' ')} did not finish: ${stdout}${stderr}`));
    }, timeoutMs);
    p.once('close', (code) => {
      clearTimeout(timer);
      for (const m of stdout.matchAll(/pid (\d+)/g)) pids.add(Number(m[1]));
      resolve({ code, stdout, stderr });
    });
  });
}

/** A foreground `mcpeg gateway ...` child, resolved once it listens. */
async function foreground(args: string[], cwd = root): Promise<{ proc: ChildProcess; stderr: () => string; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, [CLI, 'gateway', ...args], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(proc);
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await Promise.race([waitFor(() => err.includes('mcpeg listening on'), 'the gateway to listen', 30_000), exited.then((c) => Promise.reject(new Error(`exited ${c}: ${err}`)))]);
  return { proc, stderr: () => err, exited };
}

const restYaml = (port: number, api: string, tools: string[], extra = '') =>
  `server: {port: ${port}, shutdown_timeout: 10s}\npaths: {data: ./data, workspace: ./ws}\n${extra}backends:\n  api:\n    type: rest\n    base_url: ${api}\n    tools:\n${tools.map((t) => `      ${t}: {method: GET, path: /${t}}\n`).join('')}`;

const startedPid = (r: Run) => Number(/mcpeg started \(pid (\d+)\)/.exec(r.stdout)?.[1]);

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe('a daemon through the CLI: start, status, reload, log-rotate, restart, stop', () => {
  const dir = join(root, 'life');
  const cfg = join(dir, 'c.yaml');
  const pidFile = join(dir, 'run', 'mcpeg.pid');
  const logFile = join(dir, 'logs', 'mcpeg.log');
  const pf = ['--pid-file', pidFile];
  let api: HttpRecorder;
  let port: number;
  let pid: number;
  let url: string;
  let client: Client | undefined;

  before(async () => {
    mkdirSync(dir);
    api = await startRecorder();
    for (const t of ['a', 'b', 'c']) api.route('GET', `/${t}`, { body: { tool: t } });
    port = await freePort();
    url = `http://127.0.0.1:${port}/mcp`;
    writeFileSync(cfg, restYaml(port, api.url, ['a']));
  });
  after(async () => {
    await client?.close().catch(() => {});
    await api?.close();
  });

  it('starts detached and prints its pid and URL once it listens', async () => {
    const r = await mcpeg(['gateway', '--daemon', '--config', cfg, ...pf, '--log-file', logFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^mcpeg started \\(pid \\d+\\) on ${url.replace(/[.]/g, '\\.')}\\n$`));
    pid = startedPid(r);
    assert.equal(readPid(pidFile), pid);
    assert.ok(isAlive(pid));
    // Detached: its own session (setsid), so the terminal's hangup does not reach it.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    assert.equal(Number(stat[3]), pid, 'session leader');
    client = await connectClient(url);
    assert.deepEqual(
      (await client.listTools()).tools.map((t) => t.name),
      ['api__a'],
    );
  });

  it('a second start with the same pid file is refused, naming the running one', async () => {
    const other = String(await freePort());
    const r = await mcpeg(['gateway', '--daemon', '--config', cfg, '--port', other, ...pf, '--log-file', join(dir, 'second.log')]);
    assert.equal(r.code, 6);
    assert.equal(r.stderr, `mcpeg is already running (pid ${pid}, pid file ${pidFile})\n`);
    // The lock itself (not only the daemon launcher's early check): a foreground start.
    const f = await mcpeg(['gateway', '--config', cfg, '--port', other, ...pf]);
    assert.equal(f.code, 6);
    assert.match(f.stderr, new RegExp(`mcpeg is already running \\(pid ${pid}, pid file `));
    assert.equal(readPid(pidFile), pid, 'the pid file is untouched');
  });

  it('status: pid, uptime, version, URL, backends (also as mcpeg --status --verbose and --json)', async () => {
    const r = await mcpeg(['status', ...pf]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^mcpeg is running \\(pid ${pid}\\)`));
    assert.match(r.stdout, /version\s+\d+\.\d+\.\d+/);
    assert.match(r.stdout, /uptime\s+\d+s/);
    assert.match(r.stdout, new RegExp(`listening ${url}`));
    assert.match(r.stdout, /backends\s+1 \(1 up\); health ok/);
    const v = await mcpeg(['--status', '--verbose', ...pf]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /\n {4}api\s+up\s+\S+\s+1 tool\(s\)/);
    assert.match(v.stdout, new RegExp(`arguments --config ${cfg} --pid-file ${pidFile} --log-file ${logFile}`));
    const j = JSON.parse((await mcpeg(['status', '--json', ...pf])).stdout) as Record<string, any>;
    assert.equal(j.pid, pid);
    assert.equal(j.listening.port, port);
    assert.equal(j.health.backends[0].name, 'api');
  });

  it('reload: a backend added to the file serves, in the same client session; a bad file is refused', async () => {
    writeFileSync(cfg, restYaml(port, api.url, ['a']) + `  api2:\n    type: rest\n    base_url: ${api.url}\n    tools:\n      b: {method: GET, path: /b}\n`);
    const r = await mcpeg(['reload', ...pf]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `mcpeg reloaded ${cfg} (pid ${pid}): added api2; removed none; changed none\n`);
    assert.deepEqual((await client!.listTools()).tools.map((t) => t.name).sort(), ['api2__b', 'api__a']);
    assert.deepEqual((await client!.callTool({ name: 'api2__b', arguments: {} })).structuredContent, { tool: 'b' });
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { backends: Array<{ name: string }> };
    assert.deepEqual(health.backends.map((b) => b.name).sort(), ['api', 'api2']);

    writeFileSync(cfg, 'backends: {x: {type: nope}}\n');
    const bad = await mcpeg(['--reload', ...pf]);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /the reload was refused; the running configuration keeps serving:\n.*backends\.x/s);
    assert.equal((await client!.listTools()).tools.length, 2, 'the running configuration kept serving');
    writeFileSync(cfg, restYaml(port, api.url, ['a']) + `  api2:\n    type: rest\n    base_url: ${api.url}\n    tools:\n      b: {method: GET, path: /b}\n`);
  });

  it('log-rotate: the old file gzipped (readable with gunzip), a fresh one in its place', async () => {
    const before = readFileSync(logFile, 'utf8');
    assert.match(before, /"msg":"mcpeg listening"/);
    const r = await mcpeg(['log-rotate', ...pf]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `mcpeg rotated its log file: ${logFile} -> ${logFile}.1.gz\n`);
    const gunzip = spawnSync('gunzip', ['-c', `${logFile}.1.gz`], { encoding: 'utf8' });
    assert.equal(gunzip.status, 0, gunzip.stderr);
    assert.ok(gunzip.stdout.startsWith(before), 'the archive holds what the file held');
    assert.match(gunzip.stdout, /"msg":"mcpeg listening"/);
    const fresh = readFileSync(logFile, 'utf8');
    assert.doesNotMatch(fresh, /mcpeg listening/);
    assert.match(fresh, /"msg":"log file rotated"/);
    // New lines go to the new file; a second rotation shifts the first archive to .2.gz.
    await client!.callTool({ name: 'api__a', arguments: {} });
    await waitFor(() => readFileSync(logFile, 'utf8').includes('"path":"/mcp"'), 'the access log line in the new file');
    const again = await mcpeg(['--log-rotate', ...pf]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(spawnSync('gunzip', ['-c', `${logFile}.2.gz`], { encoding: 'utf8' }).stdout, /mcpeg listening/);
    assert.match(spawnSync('gunzip', ['-c', `${logFile}.1.gz`], { encoding: 'utf8' }).stdout, /"path":"\/mcp"/);
  });

  it('restart: a new pid, the same arguments, the same port serving', async () => {
    await client!.close();
    client = undefined;
    const r = await mcpeg(['restart', ...pf]);
    assert.equal(r.code, 0, r.stderr);
    const next = startedPid(r);
    assert.match(r.stdout, new RegExp(`^mcpeg stopped \\(pid ${pid}\\)\\nmcpeg started \\(pid ${next}\\) on ${url}\\n$`));
    assert.notEqual(next, pid);
    assert.equal(isAlive(pid), false, 'the old process is gone');
    assert.equal(readPid(pidFile), next);
    pid = next;
    client = await connectClient(url);
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['api2__b', 'api__a'], 'started with the same (current) config file');
    const st = JSON.parse(readFileSync(stateFileOf(pidFile), 'utf8')) as { argv: string[]; daemon: boolean };
    assert.deepEqual(st.argv, ['--config', cfg, '--pid-file', pidFile, '--log-file', logFile]);
  });

  it('stop: the process exits 0 after draining, its pid file and state file are removed', async () => {
    await client!.close();
    client = undefined;
    const r = await mcpeg(['stop', ...pf]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `mcpeg stopped (pid ${pid})\n`);
    assert.equal(isAlive(pid), false);
    assert.ok(!existsSync(pidFile) && !existsSync(stateFileOf(pidFile)));
    assert.match(readFileSync(logFile, 'utf8'), /"signal":"SIGTERM","msg":"shutting down"[^]*"code":0,"msg":"mcpeg exited"/);
    await assert.rejects(fetch(url, { method: 'POST', body: '{}' }), 'nothing listens');
    const status = await mcpeg(['status', ...pf]);
    assert.equal(status.code, 4);
    assert.equal(status.stdout, `mcpeg is not running (no pid file ${pidFile})\n`);
    assert.equal((await mcpeg(['--stop', ...pf])).code, 4);
    assert.equal((await mcpeg(['restart', ...pf])).code, 4);
  });
});

describe('stale pid files and failed starts', () => {
  const dir = join(root, 'stale');
  const pidFile = join(dir, 'mcpeg.pid');
  const pf = ['--pid-file', pidFile];
  let port: number;
  before(async () => {
    mkdirSync(dir);
    port = await freePort();
    writeFileSync(join(dir, 'c.yaml'), `server: {port: ${port}}\npaths: {data: ./data, workspace: ./ws}\n`);
  });

  it('a pid file whose process is gone: status says stale (5), a daemon start replaces it', async () => {
    const dead = spawnSync('true').pid!;
    writeFileSync(pidFile, `${dead}\n`);
    const s = await mcpeg(['status', ...pf]);
    assert.equal(s.code, 5);
    assert.equal(s.stdout, `mcpeg is not running (stale pid file ${pidFile}: process ${dead} is not running)\n`);
    // Relative paths, resolved against the working directory.
    const r = await mcpeg(['--daemon', '--config', 'c.yaml', '--pid-file', 'mcpeg.pid'], dir);
    assert.equal(r.code, 0, r.stderr);
    const pid = startedPid(r);
    assert.equal(readPid(pidFile), pid);
    assert.match(readFileSync(join(dir, 'mcpeg.log'), 'utf8'), new RegExp(`"stalePid":${dead},"reason":"process ${dead} is not running","msg":"replaced a stale pid file"`));
    assert.equal((await mcpeg(['stop', ...pf])).code, 0);
  });

  it('stop on a stale pid file removes it and exits 5', async () => {
    writeFileSync(pidFile, `${spawnSync('true').pid!}\n`);
    const r = await mcpeg(['stop', ...pf]);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /removed the stale pid file/);
    assert.ok(!existsSync(pidFile));
  });

  it('a daemon that cannot start: its error from the log, the config exit code, no pid file left', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'server: {port: nope}\n');
    const r = await mcpeg(['gateway', '--daemon', '--config', 'bad.yaml', ...pf], dir);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /the daemon failed to start \(it exited with code 3\); .*mcpeg\.log says:\n.*server\.port/s);
    // The port taken by a foreground gateway: the daemon reports the listen error, exit 1.
    const fg = await foreground(['--config', 'c.yaml'], dir);
    const taken = await mcpeg(['gateway', '--daemon', '--config', 'c.yaml', ...pf], dir);
    fg.proc.kill('SIGTERM');
    assert.equal(await fg.exited, 0);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /failed to start .*\n.*cannot start.*EADDRINUSE/s);
    assert.ok(!existsSync(pidFile), 'released on the failed start');
  });
});

describe('SIGTERM during a slow tool call', () => {
  let api: HttpRecorder;
  before(async () => {
    api = await startRecorder();
    // Long enough for `mcpeg stop` to start and signal while the call is in flight.
    api.route('GET', '/slow', { body: { done: true }, delayMs: 6000 });
  });
  after(() => api?.close());

  /** Starts a gateway one way, then checks the drain; `term` sends SIGTERM, `exit` resolves with the exit code. */
  const drain = async (start: (cfg: string, dir: string) => Promise<{ pid: number; term: () => Promise<unknown>; exit: () => Promise<number | null> }>, name: string) => {
    const dir = join(root, name);
    mkdirSync(dir);
    const port = await freePort();
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, restYaml(port, api.url, ['slow']));
    const g = await start(cfg, dir);
    const base = `http://127.0.0.1:${port}`;
    const client = await connectClient(`${base}/mcp`);
    const seen = api.all('/slow').length;
    let finished = false;
    const slow = client.callTool({ name: 'api__slow', arguments: {} }).finally(() => (finished = true));
    await waitFor(() => api.all('/slow').length > seen, 'the slow call to reach the API');
    const t0 = Date.now();
    const terminated = g.term();
    // New connections are refused while the call is still in flight.
    await waitFor(
      () =>
        fetch(`${base}/health/live`).then(
          () => false,
          () => true,
        ),
      'new connections to be refused',
      5000,
      20,
    );
    assert.equal(finished, false, 'refused while the slow call was still in flight');
    assert.deepEqual((await slow).structuredContent, { done: true }, 'the in-flight call completed');
    assert.equal(await g.exit(), 0);
    assert.ok(Date.now() - t0 < 10_000, `exited within shutdown_timeout (took ${Date.now() - t0} ms)`);
    await terminated;
    assert.equal(isAlive(g.pid), false);
    assert.ok(!existsSync(join(dir, 'mcpeg.pid')), 'the pid file is removed');
    await client.close().catch(() => {});
  };

  it('a foreground gateway: the call completes, new connections are refused, exit code 0 within the deadline', () =>
    drain(async (cfg, dir) => {
      const fg = await foreground(['--config', cfg, '--pid-file', join(dir, 'mcpeg.pid')]);
      return { pid: fg.proc.pid!, term: async () => fg.proc.kill('SIGTERM'), exit: () => fg.exited };
    }, 'drain-fg'));

  it('a daemon stopped with mcpeg stop: the same, and stop reports a clean exit (not SIGKILL)', () =>
    drain(async (cfg, dir) => {
      const pidFile = join(dir, 'mcpeg.pid');
      const r = await mcpeg(['gateway', '--daemon', '--config', cfg, '--pid-file', pidFile], dir);
      assert.equal(r.code, 0, r.stderr);
      let stop: Promise<Run> | undefined;
      return {
        pid: startedPid(r),
        term: () => (stop = mcpeg(['stop', '--pid-file', pidFile])),
        exit: async () => {
          const s = await stop!;
          assert.equal(s.code, 0, s.stderr);
          // A daemon is not our child: its exit code is in its log.
          const m = /"code":(\d+),"msg":"mcpeg exited"/.exec(readFileSync(join(dir, 'mcpeg.log'), 'utf8'));
          return m ? Number(m[1]) : null;
        },
      };
    }, 'drain-daemon'));
});

describe('dev mode', () => {
  it('debug logs, and a change of the config file applies without a signal', async () => {
    const api = await startRecorder();
    api.route('GET', '/a', { body: {} });
    api.route('GET', '/b', { body: {} });
    const dir = join(root, 'dev');
    mkdirSync(dir);
    const port = await freePort();
    const cfg = join(dir, 'c.yaml');
    const admin = 'admin: {port: 0}\n';
    writeFileSync(cfg, restYaml(port, api.url, ['a'], admin));
    const fg = await foreground(['--dev', '--config', cfg]);
    try {
      const client = await connectClient(`http://127.0.0.1:${port}/mcp`);
      assert.match(fg.stderr(), /"level":20/, 'debug lines (JSON: stderr is not a terminal)');
      assert.match(fg.stderr(), /dev mode: reloading the config file when it changes/);
      writeFileSync(cfg, restYaml(port, api.url, ['a', 'b'], admin));
      await waitFor(async () => (await client.listTools()).tools.length === 2, 'the edited file to apply');
      await waitFor(() => fg.stderr().includes('"trigger":"config file change"'), 'the reload to be logged');
      await client.close();
    } finally {
      fg.proc.kill('SIGTERM');
      assert.equal(await fg.exited, 0);
      await api.close();
    }
  });
});
