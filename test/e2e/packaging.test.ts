/**
 * System integration (issue 8, acceptance 4 and 5): the systemd unit passes
 * `systemd-analyze verify` (and its offline security review), the shell scripts pass
 * `shellcheck`, install.sh lays out a staging root and changes nothing under --dry-run,
 * the management scripts call the CLI or systemctl, the Dockerfile and the Kubernetes
 * manifests are checked structurally and against a schema, and `npm pack` then
 * `npm install -g` into a temporary prefix gives a `mcpeg` whose `version` and `gateway`
 * work — also as the container runs it (its CMD, config, environment and HEALTHCHECK).
 *
 * shellcheck and systemd-analyze come from Debian (`.ci/run` installs them); when one is
 * missing the test installs it with apt-get if it can. With CI=true a missing tool fails
 * the test; elsewhere the test is skipped with the reason.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it, type TestContext } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { connectClient, freePort } from '../helpers/gateway.js';
import { REDIS_URL, redisPrefix } from '../helpers/redis.js';

/** The compiled tree this test runs from (dist/, or a build with --outDir elsewhere). */
const DIST = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(DIST, 'src/cli/main.js');

/** The source tree: above dist/, or, for a build elsewhere, where its test/ link points. */
function findSourceRoot(): string {
  const above = resolve(DIST, '..');
  const candidates = [above];
  try {
    candidates.push(resolve(realpathSync(join(above, 'test')), '..'));
  } catch {
    /* no test/ link */
  }
  const found = candidates.find((d) => existsSync(join(d, 'package.json')) && existsSync(join(d, 'deploy')));
  if (!found) throw new Error(`cannot find the source tree (package.json and deploy/) from ${DIST}`);
  return found;
}
const SRC = findSourceRoot();
const DEPLOY = join(SRC, 'deploy');
const PKG = JSON.parse(readFileSync(join(SRC, 'package.json'), 'utf8')) as { version: string; files: string[]; bin: Record<string, string>; engines: { node: string } };

const tmp = mkdtempSync(join(tmpdir(), 'mcpeg-packaging-'));
const children: ChildProcess[] = [];
// The ConfigMap's configuration runs with state.store: redis: its keys go under a prefix of this file's own.
const { prefix: redisPrefixForPackaging, cleanup: redisCleanup } = redisPrefix();
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
  await redisCleanup().catch(() => {});
});

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: opts.timeout ?? 60_000, cwd: opts.cwd, env: opts.env ?? process.env });
}
const out = (r: SpawnSyncReturns<string>) =>
  `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}${r.error ? `\n--- error ${r.error.message}` : ''}`;
const have = (cmd: string) => sh('sh', ['-c', `command -v ${cmd}`]).status === 0;

/**
 * Makes sure a Debian-packaged tool is here, installing it when running as root with
 * apt-get. Returns why it is missing (then the test skips), or fails under CI=true.
 */
function ensureTool(cmd: string, pkg: string): string | undefined {
  if (have(cmd)) return undefined;
  if (process.getuid?.() === 0 && have('apt-get')) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { env, timeout: 300_000 });
    if (install().status !== 0) {
      sh('apt-get', ['update', '-qq'], { env, timeout: 300_000 });
      install();
    }
    if (have(cmd)) return undefined;
  }
  const why = `${cmd} is not installed and could not be installed here (apt-get install -y ${pkg})`;
  if (process.env.CI === 'true' || process.env.CI === '1') assert.fail(`${why}: CI must run this check (.ci/run installs ${pkg})`);
  return why;
}
function needTool(t: TestContext, cmd: string, pkg: string): boolean {
  const why = ensureTool(cmd, pkg);
  if (why) t.skip(why);
  return !why;
}

/** Drops npm's per-run variables (prefix, lifecycle) so a child npm sees only its own flags. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && !/^MCPEG_/.test(k)) env[k] = v;
  // The running node first on PATH, so `#!/usr/bin/env node` starts the version under test.
  env.PATH = [dirname(process.execPath), env.PATH ?? ''].join(delimiter);
  return { ...env, ...extra };
}

/** A systemd unit file as section → key → values (in order; "" resets, as systemd reads it). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let cur: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      cur = new Map();
      sections.set(sec[1], cur);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(cur && eq > 0, `unit line outside a section or without "=": ${line}`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    cur!.set(key, [...(cur!.get(key) ?? []), value]);
  }
  return sections;
}
function seconds(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)?$/.exec(v);
  assert.ok(m, `not a systemd time span I can read: ${v}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'min' || m[2] === 'm' ? n * 60 : m[2] === 'h' ? n * 3600 : n;
}

const UNIT_TEXT = readFileSync(join(DEPLOY, 'systemd/mcpeg.service'), 'utf8');
const UNIT = parseUnit(UNIT_TEXT);
const svc = (key: string) => UNIT.get('Service')?.get(key) ?? [];
const DEFAULT_CONFIG = join(DEPLOY, 'config/mcpeg.yaml');

/** `systemd-analyze verify` on a copy of the unit named mcpeg.service; returns its complaints. */
function verifyUnit(text: string): { status: number | null; complaints: string[]; all: string } {
  const dir = mkdtempSync(join(tmp, 'unit-'));
  const file = join(dir, 'mcpeg.service');
  writeFileSync(file, text);
  const r = sh('systemd-analyze', ['verify', file], { env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } });
  const all = `${r.stdout}${r.stderr}`;
  // Other units of this machine may draw warnings too; ours are the lines naming it.
  return { status: r.status, complaints: all.split('\n').filter((l) => l.includes('mcpeg.service')), all };
}

describe('systemd unit', () => {
  it('has the service settings and hardening docs/deploy.md describes', () => {
    assert.deepEqual(svc('Type'), ['simple']);
    assert.deepEqual(svc('User'), ['mcpeg']);
    assert.deepEqual(svc('ExecStart'), ['/usr/bin/env mcpeg gateway --config /etc/mcpeg/mcpeg.yaml']);
    assert.deepEqual(svc('ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.deepEqual(svc('KillSignal'), ['SIGTERM']);
    assert.deepEqual(svc('KillMode'), ['mixed']);
    assert.deepEqual(svc('Restart'), ['on-failure']);
    assert.deepEqual(svc('RestartPreventExitStatus'), ['2 3']);
    for (const [k, v] of Object.entries({
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      StateDirectory: 'mcpeg',
      LogsDirectory: 'mcpeg',
      CapabilityBoundingSet: '',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
    })) {
      assert.deepEqual(svc(k), [v], `${k}=${v}`);
    }
    assert.deepEqual(svc('ReadWritePaths').join(' ').split(/\s+/).sort(), ['/var/lib/mcpeg', '/var/log/mcpeg']);
    // V8's JIT needs writable and executable memory.
    assert.deepEqual(svc('MemoryDenyWriteExecute'), []);
    assert.deepEqual(UNIT.get('Install')?.get('WantedBy'), ['multi-user.target']);
  });

  it('gives the gateway longer to stop than the config gives requests to drain', () => {
    const config = loadConfig({ file: DEFAULT_CONFIG });
    const stop = seconds(svc('TimeoutStopSec')[0] ?? '90s');
    assert.ok(stop * 1000 > config.server.shutdown_timeout, `TimeoutStopSec=${stop}s must exceed server.shutdown_timeout=${config.server.shutdown_timeout}ms`);
  });

  it('runs a command line the CLI accepts', () => {
    const [env, bin, ...args] = svc('ExecStart')[0].split(/\s+/);
    assert.equal(`${env} ${bin}`, '/usr/bin/env mcpeg');
    // --help after the unit's own arguments: exit 0 only if every flag is known.
    const r = sh(process.execPath, [CLI, ...args, '--help']);
    assert.equal(r.status, 0, out(r));
  });

  it('passes systemd-analyze verify, as shipped and as install.sh writes it', (t) => {
    if (!needTool(t, 'systemd-analyze', 'systemd')) return;
    const shipped = verifyUnit(UNIT_TEXT);
    assert.equal(shipped.status, 0, shipped.all);
    assert.deepEqual(shipped.complaints, [], shipped.all);
    // What install.sh writes: ExecStart on the absolute path of the installed mcpeg.
    const stub = join(tmp, 'bin-stub', 'mcpeg');
    mkdirSync(dirname(stub), { recursive: true });
    writeFileSync(stub, '#!/bin/sh\nexit 0\n');
    chmodSync(stub, 0o755);
    const installed = verifyUnit(UNIT_TEXT.replace('ExecStart=/usr/bin/env mcpeg ', `ExecStart=${stub} `));
    assert.equal(installed.status, 0, installed.all);
    assert.deepEqual(installed.complaints, [], installed.all);
    // The check is real: a unit whose program does not exist, or with a typo, is refused.
    const missing = verifyUnit(UNIT_TEXT.replace('ExecStart=/usr/bin/env mcpeg ', `ExecStart=${join(tmp, 'no-such-mcpeg')} `));
    assert.notEqual(missing.status, 0, missing.all);
    const typo = verifyUnit(UNIT_TEXT.replace('ProtectSystem=strict', 'ProtectSystem=strikt'));
    assert.ok(typo.status !== 0 || typo.complaints.length > 0, typo.all);
  });

  it('has an exposure level of at most 2.5 in the offline security review', (t) => {
    if (!needTool(t, 'systemd-analyze', 'systemd')) return;
    const dir = mkdtempSync(join(tmp, 'security-'));
    writeFileSync(join(dir, 'mcpeg.service'), UNIT_TEXT);
    const r = sh('systemd-analyze', ['security', '--offline=true', '--threshold=25', '--no-pager', join(dir, 'mcpeg.service')], { env: { ...process.env, SYSTEMD_COLORS: '0' } });
    const level = /Overall exposure level for mcpeg\.service: (\d+(?:\.\d+)?)/.exec(r.stdout + r.stderr);
    assert.ok(level, out(r));
    assert.ok(Number(level[1]) <= 2.5, `exposure ${level[1]}:\n${out(r)}`);
    assert.equal(r.status, 0, out(r));
  });
});

describe('shell scripts', () => {
  const scripts = [
    'install.sh',
    ...readdirSync(join(DEPLOY, 'scripts'))
      .filter((f) => f.endsWith('.sh'))
      .map((f) => `scripts/${f}`),
  ];

  it('pass shellcheck', (t) => {
    if (!needTool(t, 'shellcheck', 'shellcheck')) return;
    assert.ok(scripts.length >= 6, scripts.join(' '));
    const r = sh('shellcheck', ['--external-sources', '--format=gcc', ...scripts], { cwd: DEPLOY });
    assert.equal(r.status, 0, out(r));
  });

  it('are executable POSIX sh with set -eu (common.sh is sourced)', () => {
    for (const s of scripts) {
      const text = readFileSync(join(DEPLOY, s), 'utf8');
      if (s.endsWith('common.sh')) {
        assert.match(text, /^# shellcheck shell=sh/m);
        continue;
      }
      assert.match(text, /^#!\/bin\/sh\n/, s);
      assert.match(text, /^set -eu$/m, s);
      assert.ok((statSync(join(DEPLOY, s)).mode & 0o111) !== 0, `${s} is not executable`);
      const n = sh('sh', ['-n', join(DEPLOY, s)]);
      assert.equal(n.status, 0, `${s}: ${out(n)}`);
    }
  });
});

describe('install.sh', () => {
  // systemd's own PATH: the node found there (if any) needs no Environment=PATH= line.
  const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const install = (args: string[], env: NodeJS.ProcessEnv = {}) => sh('sh', [join(DEPLOY, 'install.sh'), ...args], { env: cleanEnv({ PATH: SYSTEM_PATH, ...env }) });
  const mode = (p: string) => statSync(p).mode & 0o777;

  it('installs into a staging root: directories, the default config, the unit', (t) => {
    const root = join(tmp, 'stage');
    const stub = join(tmp, 'stage-bin', 'mcpeg');
    mkdirSync(dirname(stub), { recursive: true });
    writeFileSync(stub, '#!/bin/sh\nexit 0\n');
    chmodSync(stub, 0o755);
    const r = install(['--root', root, '--mcpeg', stub]);
    assert.equal(r.status, 0, out(r));
    assert.match(r.stdout, /skipped under --root: creating the system user mcpeg/);
    assert.match(r.stdout, /skipped under --root: systemctl daemon-reload/);
    assert.equal(mode(join(root, 'etc/mcpeg')), 0o750);
    assert.equal(mode(join(root, 'var/lib/mcpeg')), 0o750);
    assert.equal(mode(join(root, 'var/log/mcpeg')), 0o750);
    assert.equal(mode(join(root, 'etc/mcpeg/mcpeg.yaml')), 0o640);
    assert.equal(readFileSync(join(root, 'etc/mcpeg/mcpeg.yaml'), 'utf8'), readFileSync(DEFAULT_CONFIG, 'utf8'));
    const unitFile = join(root, 'etc/systemd/system/mcpeg.service');
    assert.equal(mode(unitFile), 0o644);
    const unit = readFileSync(unitFile, 'utf8');
    assert.equal(unit, UNIT_TEXT.replace('ExecStart=/usr/bin/env mcpeg ', `ExecStart=${stub} `));
    if (ensureTool('systemd-analyze', 'systemd') === undefined) {
      const v = sh('systemd-analyze', ['verify', unitFile]);
      assert.equal(v.status, 0, out(v));
      assert.ok(!`${v.stdout}${v.stderr}`.includes('mcpeg.service'), out(v));
    } else t.diagnostic('systemd-analyze missing: the installed unit was not verified');

    // A second run keeps a config the admin changed.
    writeFileSync(join(root, 'etc/mcpeg/mcpeg.yaml'), 'server: {port: 9999}\n');
    const again = install(['--root', root, '--mcpeg', stub]);
    assert.equal(again.status, 0, out(again));
    assert.match(again.stdout, /kept the existing .*mcpeg\.yaml/);
    assert.equal(readFileSync(join(root, 'etc/mcpeg/mcpeg.yaml'), 'utf8'), 'server: {port: 9999}\n');
  });

  it('puts node on the service PATH when it is not in a system directory; honours --user and DESTDIR', () => {
    const root = join(tmp, 'stage-node');
    const nodeDir = join(tmp, 'opt node', 'bin');
    mkdirSync(nodeDir, { recursive: true });
    writeFileSync(join(nodeDir, 'node'), '#!/bin/sh\n');
    chmodSync(join(nodeDir, 'node'), 0o755);
    const r = install(['--mcpeg', '/usr/bin/env', '--user', 'gw'], { DESTDIR: root, PATH: `${nodeDir}${delimiter}${SYSTEM_PATH}` });
    assert.equal(r.status, 0, out(r));
    const unit = parseUnit(readFileSync(join(root, 'etc/systemd/system/mcpeg.service'), 'utf8')).get('Service')!;
    assert.deepEqual(unit.get('Environment'), ['NODE_ENV=production', `PATH=${nodeDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`]);
    assert.deepEqual(unit.get('User'), ['gw']);
    assert.deepEqual(unit.get('Group'), ['gw']);
    assert.deepEqual(unit.get('ExecStart'), ['/usr/bin/env gateway --config /etc/mcpeg/mcpeg.yaml']);
  });

  it('--dry-run prints what it would do and changes nothing', () => {
    const root = join(tmp, 'stage-dry');
    const r = install(['--dry-run', '--root', root, '--mcpeg', '/usr/bin/env']);
    assert.equal(r.status, 0, out(r));
    assert.match(r.stdout, /\+ mkdir -p .*stage-dry\/etc\/mcpeg/);
    assert.match(r.stdout, /would install .*stage-dry\/etc\/systemd\/system\/mcpeg\.service/);
    assert.equal(existsSync(root), false);

    // Without --root, against this machine: the useradd and systemctl lines, and no change.
    const before = ['/etc/mcpeg', '/etc/systemd/system/mcpeg.service', '/var/lib/mcpeg', '/var/log/mcpeg'].map((p) => existsSync(p));
    const real = install(['--dry-run', '--mcpeg', '/usr/bin/env']);
    assert.equal(real.status, 0, out(real));
    assert.match(real.stdout, /\+ useradd --system --no-create-home --home-dir \/var\/lib\/mcpeg --shell \/usr\/sbin\/nologin .*mcpeg|user mcpeg exists/);
    assert.match(real.stdout, /\+ chown mcpeg:mcpeg \/var\/lib\/mcpeg \/var\/log\/mcpeg/);
    assert.match(real.stdout, /\+ systemctl daemon-reload|systemd is not running here/);
    assert.deepEqual(
      ['/etc/mcpeg', '/etc/systemd/system/mcpeg.service', '/var/lib/mcpeg', '/var/log/mcpeg'].map((p) => existsSync(p)),
      before,
    );
  });

  it('refuses unknown options and bad values', () => {
    assert.equal(install(['--bogus']).status, 2);
    assert.notEqual(install(['--root', join(tmp, 'x'), '--mcpeg', 'relative/mcpeg']).status, 0);
    assert.notEqual(install(['--root', join(tmp, 'x'), '--user', 'Bad User']).status, 0);
  });
});

describe('management scripts', () => {
  /** A stub for `mcpeg` and `systemctl` that logs its arguments and exits with STUB_EXIT. */
  const stubDir = join(tmp, 'stubs');
  const log = join(tmp, 'stub.log');
  mkdirSync(stubDir, { recursive: true });
  for (const name of ['mcpeg', 'systemctl']) {
    writeFileSync(join(stubDir, name), `#!/bin/sh\necho "${name} $*" >> "${log}"\nexit "\${STUB_EXIT:-0}"\n`);
    chmodSync(join(stubDir, name), 0o755);
  }
  const run = (script: string, args: string[], env: NodeJS.ProcessEnv) => {
    rmSync(log, { force: true });
    const base = cleanEnv();
    const r = sh('sh', [join(DEPLOY, 'scripts', script), ...args], { env: { ...base, PATH: `${stubDir}${delimiter}${base.PATH}`, ...env } });
    return { ...r, calls: existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [] };
  };
  const pid = join(tmp, 'run', 'mcpeg.pid');
  const logFile = join(tmp, 'logs', 'mcpeg.log');
  const cli = { MCPEG_USE_SYSTEMD: '0', MCPEG_PID_FILE: pid, MCPEG_LOG_FILE: logFile, MCPEG_CONFIG: '/etc/mcpeg/x.yaml' };

  it('call the mcpeg CLI with the PID file when not a service', () => {
    const start = run('start.sh', ['--port', '9000'], cli);
    assert.equal(start.status, 0, out(start));
    assert.deepEqual(start.calls, [`mcpeg gateway --daemon --pid-file ${pid} --log-file ${logFile} --config /etc/mcpeg/x.yaml --port 9000`]);
    assert.ok(existsSync(dirname(pid)) && existsSync(dirname(logFile)), 'start.sh creates the PID and log directories');
    assert.deepEqual(run('stop.sh', ['--timeout', '5s'], cli).calls, [`mcpeg stop --pid-file ${pid} --timeout 5s`]);
    assert.deepEqual(run('restart.sh', [], cli).calls, [`mcpeg restart --pid-file ${pid}`]);
    assert.deepEqual(run('reload.sh', [], cli).calls, [`mcpeg reload --pid-file ${pid}`]);
    assert.deepEqual(run('status.sh', ['--verbose'], cli).calls, [`mcpeg status --pid-file ${pid} --verbose`]);
    // The CLI's exit status is the script's.
    assert.equal(run('status.sh', [], { ...cli, STUB_EXIT: '3' }).status, 3);
  });

  it('call systemctl when installed as a service', () => {
    const svcEnv = { MCPEG_USE_SYSTEMD: '1' };
    for (const [script, verb] of [
      ['start.sh', 'start'],
      ['stop.sh', 'stop'],
      ['restart.sh', 'restart'],
      ['reload.sh', 'reload'],
      ['status.sh', 'status --no-pager'],
    ]) {
      const r = run(script, [], svcEnv);
      assert.equal(r.status, 0, out(r));
      assert.deepEqual(r.calls, [`systemctl ${verb} mcpeg.service`], script);
    }
    assert.equal(run('status.sh', [], { ...svcEnv, STUB_EXIT: '3' }).status, 3);
  });

  it('pass flags the real CLI accepts, and drive a real daemon when the CLI has daemon mode', async (t) => {
    if (!/--pid-file/.test(sh(process.execPath, [CLI, 'gateway', '--help']).stdout)) {
      t.skip('the CLI has no daemon mode yet (mcpeg gateway --daemon --pid-file ...)');
      return;
    }
    // Each command line the scripts build, with --help: exit 0 only if the verb and every flag are known.
    const lines = [
      ['gateway', '--daemon', '--pid-file', pid, '--log-file', logFile, '--config', 'x.yaml'],
      ['stop', '--pid-file', pid],
      ['restart', '--pid-file', pid],
      ['reload', '--pid-file', pid],
      ['status', '--pid-file', pid, '--verbose'],
    ];
    const checks = await Promise.all(lines.map((args) => spawnAsync(process.execPath, [CLI, ...args, '--help'])));
    checks.forEach((r, i) => assert.equal(r.status, 0, `mcpeg ${lines[i].join(' ')} --help: ${r.output}`));

    const port = await freePort();
    const dir = mkdtempSync(join(tmp, 'daemon-'));
    const config = join(dir, 'mcpeg.yaml');
    writeFileSync(config, `server: {host: 127.0.0.1, port: ${port}}\npaths: {data: ./data, workspace: ./workspace}\nplugins: [{name: memory}]\n`);
    const wrapper = join(dir, 'mcpeg');
    writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(wrapper, 0o755);
    const env = { MCPEG_USE_SYSTEMD: '0', MCPEG_BIN: wrapper, MCPEG_CONFIG: config, MCPEG_PID_FILE: join(dir, 'run/mcpeg.pid'), MCPEG_LOG_FILE: join(dir, 'log/mcpeg.log') };
    const script = (name: string) => sh('sh', [join(DEPLOY, 'scripts', name)], { cwd: dir, env: cleanEnv(env), timeout: 30_000 });
    try {
      const started = script('start.sh');
      assert.equal(started.status, 0, out(started));
      assert.ok(existsSync(env.MCPEG_PID_FILE), 'start.sh: the PID file is written');
      assert.equal((await fetch(`http://127.0.0.1:${port}/health/live`)).status, 200);
      const status = script('status.sh');
      assert.equal(status.status, 0, out(status));
      assert.match(status.stdout, new RegExp(`127\\.0\\.0\\.1:${port}`));
      const reloaded = script('reload.sh');
      assert.equal(reloaded.status, 0, out(reloaded));
      const stopped = script('stop.sh');
      assert.equal(stopped.status, 0, out(stopped));
      assert.equal(existsSync(env.MCPEG_PID_FILE), false, 'stop.sh: the PID file is removed');
      assert.notEqual(script('status.sh').status, 0, 'status.sh fails once stopped');
    } finally {
      if (existsSync(env.MCPEG_PID_FILE)) script('stop.sh');
    }
  });
});

/** spawnSync's answer without blocking the event loop, so that several run at once. */
function spawnAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<{ status: number | null; output: string }> {
  return new Promise((resolvePromise) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.on('error', (err) => resolvePromise({ status: null, output: `${output}${err.message}` }));
    p.on('close', (status) => resolvePromise({ status, output }));
  });
}

/** Dockerfile instructions: continuation lines joined, comments and blank lines dropped. */
function dockerInstructions(text: string): Array<{ op: string; args: string }> {
  const list: Array<{ op: string; args: string }> = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    if (!pending && !raw.trim()) continue;
    pending += raw.replace(/\\\s*$/, ' ');
    if (/\\\s*$/.test(raw)) continue;
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(pending);
    assert.ok(m, `Dockerfile: cannot read ${pending}`);
    list.push({ op: m[1].toUpperCase(), args: m[2].trim().replace(/\s+/g, ' ') });
    pending = '';
  }
  return list;
}
/** A .dockerignore's verdict on a path (patterns in order, "!" re-includes; * and prefixes only). */
function dockerIgnored(patterns: string[], path: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    const p = (neg ? raw.slice(1) : raw).replace(/^\/+|\/+$/g, '');
    if (p === '*' || p === '**' || path === p || path.startsWith(`${p}/`)) ignored = !neg;
  }
  return ignored;
}

describe('Dockerfile', () => {
  const file = join(DEPLOY, 'docker/Dockerfile');
  const ins = dockerInstructions(readFileSync(file, 'utf8'));
  const stages: Array<{ image: string; name?: string; ins: typeof ins }> = [];
  for (const i of ins) {
    if (i.op === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args);
      assert.ok(m, `FROM ${i.args}`);
      stages.push({ image: m[1], name: m[2], ins: [] });
    } else if (i.op !== 'ARG' || stages.length) {
      assert.ok(stages.length, `${i.op} before FROM`);
      stages.at(-1)!.ins.push(i);
    }
  }
  const runtime = stages.at(-1)!;
  const of = (s: (typeof stages)[number], op: string) => s.ins.filter((i) => i.op === op).map((i) => i.args);
  const exec = (args: string) => JSON.parse(args) as string[];

  it('is multi-stage on pinned base images of a supported Node.js', () => {
    assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
    const minMajor = Number(/\d+/.exec(PKG.engines.node)![0]);
    for (const s of stages) {
      const m = /^node:(\d+)\.\d+\.\d+(?:-[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$/.exec(s.image) ?? /^[\w./-]+@sha256:[0-9a-f]{64}$/.exec(s.image);
      assert.ok(m, `base image ${s.image} is not pinned to a version (node:X.Y.Z[-variant] or a digest)`);
      if (m[1]) assert.ok(Number(m[1]) >= minMajor, `${s.image}: engines.node is ${PKG.engines.node}`);
    }
  });

  it('builds with npm ci and tsc, and runs production dependencies and dist only', () => {
    const build = stages.find((s) => s.name && runtime.ins.some((i) => i.op === 'COPY' && i.args.includes(`--from=${s.name}`)));
    assert.ok(build, 'the runtime stage copies from a named build stage');
    assert.ok(
      of(build, 'RUN').some((r) => /\bnpm ci\b/.test(r)),
      'build: npm ci',
    );
    assert.ok(
      of(build, 'RUN').some((r) => /\btsc\b|npm run build/.test(r)),
      'build: tsc',
    );
    assert.ok(
      of(runtime, 'RUN').some((r) => /\bnpm ci\b.*--omit=dev/.test(r)),
      'runtime: npm ci --omit=dev',
    );
    assert.ok(!of(runtime, 'RUN').some((r) => /\btsc\b/.test(r)), 'runtime: no compiler');
    const fromBuild = of(runtime, 'COPY').filter((c) => c.includes('--from='));
    assert.deepEqual(
      fromBuild.map((c) => c.replace(/--from=\S+\s+/, '').split(' ')[0]),
      ['/src/dist/src', '/src/dist/ui'],
    );
  });

  it('runs as a non-root numeric user, exposes 8080, health-checks /health/live with node, binds 0.0.0.0', () => {
    const users = of(runtime, 'USER');
    assert.ok(users.length > 0, 'USER in the runtime stage');
    const user = users.at(-1)!;
    assert.match(user, /^[1-9]\d*(:\d+)?$/, 'a numeric non-root UID, so that Kubernetes runAsNonRoot can check it');
    assert.ok(of(runtime, 'EXPOSE').some((e) => e.split(' ').includes('8080')));
    const env = of(runtime, 'ENV').join(' ');
    assert.match(env, /\bMCPEG_SERVER__HOST=0\.0\.0\.0\b/);
    const hc = of(runtime, 'HEALTHCHECK');
    assert.equal(hc.length, 1);
    const cmd = /\bCMD (\[.*\])$/.exec(hc[0]);
    assert.ok(cmd, `HEALTHCHECK in exec form: ${hc[0]}`);
    const argv = exec(cmd[1]);
    assert.equal(argv[0], 'node', 'no curl or wget in the slim image');
    assert.match(argv.join(' '), /127\.0\.0\.1.*\/health\/live/);
    assert.deepEqual(exec(of(runtime, 'CMD').at(-1)!), ['node', 'dist/src/cli/main.js', 'gateway', '--config', '/etc/mcpeg/mcpeg.yaml']);
    // The CMD's file is the package's bin.
    assert.equal(PKG.bin.mcpeg, 'dist/src/cli/main.js');
  });

  it('copies only files that exist and that its .dockerignore lets into the context', () => {
    const ignore = readFileSync(join(DEPLOY, 'docker/Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const sources = stages
      .flatMap((s) => of(s, 'COPY'))
      .filter((c) => !c.includes('--from='))
      .flatMap((c) => {
        const words = c.startsWith('[') ? exec(c) : c.split(' ').filter((w) => !w.startsWith('--'));
        return words.slice(0, -1);
      });
    assert.ok(sources.length >= 4, sources.join(' '));
    for (const src of sources) {
      assert.ok(existsSync(join(SRC, src)), `COPY ${src}: not in the repository`);
      assert.equal(dockerIgnored(ignore, src), false, `COPY ${src}: excluded by Dockerfile.dockerignore`);
    }
    assert.equal(dockerIgnored(ignore, 'node_modules'), true);
    assert.equal(dockerIgnored(ignore, 'dist'), true);
  });

  it('ships the default config, which the image environment (0.0.0.0) refuses until authentication is configured', () => {
    const copy = of(runtime, 'COPY').find((c) => c.endsWith(' /etc/mcpeg/mcpeg.yaml'));
    assert.equal(copy, 'deploy/config/mcpeg.yaml /etc/mcpeg/mcpeg.yaml');
    const r = sh(process.execPath, [CLI, 'validate', '--config', DEFAULT_CONFIG], { env: cleanEnv({ MCPEG_SERVER__HOST: '0.0.0.0' }) });
    assert.notEqual(r.status, 0, out(r));
    assert.match(out(r), /server\.host: .*no authentication/);
    const open = sh(process.execPath, [CLI, 'validate', '--config', DEFAULT_CONFIG], {
      env: cleanEnv({ MCPEG_SERVER__HOST: '0.0.0.0', MCPEG_AUTH__ALLOW_UNAUTHENTICATED: 'true' }),
    });
    assert.equal(open.status, 0, out(open));
  });
});

// ---- Kubernetes: a schema of the fields these manifests use (names as in the Kubernetes
// API; unknown fields are errors, so a misspelt key fails), then cross-checks.
const S = { type: 'string', minLength: 1 } as const;
const INT = { type: 'integer', minimum: 0 } as const;
const DNS_LABEL = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 } as const;
const LABELS = { type: 'object', additionalProperties: { type: 'string' } } as const;
const PORT_REF = { anyOf: [{ type: 'integer', minimum: 1, maximum: 65535 }, DNS_LABEL] } as const;
const QUANTITY = { anyOf: [{ type: 'number' }, { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$' }] } as const;
const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', additionalProperties: false, properties, required });
const METADATA = obj({ name: DNS_LABEL, namespace: DNS_LABEL, labels: LABELS, annotations: LABELS }, ['name']);
const PROBE = obj(
  {
    httpGet: obj({ path: { type: 'string', pattern: '^/' }, port: PORT_REF, scheme: { enum: ['HTTP', 'HTTPS'] }, host: S, httpHeaders: { type: 'array' } }, ['port']),
    tcpSocket: obj({ port: PORT_REF, host: S }, ['port']),
    exec: obj({ command: { type: 'array', minItems: 1, items: S } }, ['command']),
    initialDelaySeconds: INT,
    periodSeconds: INT,
    timeoutSeconds: INT,
    successThreshold: INT,
    failureThreshold: INT,
    terminationGracePeriodSeconds: INT,
  },
  [],
);
const SECURITY = obj({
  allowPrivilegeEscalation: { type: 'boolean' },
  readOnlyRootFilesystem: { type: 'boolean' },
  runAsNonRoot: { type: 'boolean' },
  runAsUser: INT,
  runAsGroup: INT,
  privileged: { type: 'boolean' },
  capabilities: obj({ add: { type: 'array', items: S }, drop: { type: 'array', items: S } }),
  seccompProfile: obj({ type: { enum: ['RuntimeDefault', 'Localhost', 'Unconfined'] }, localhostProfile: S }, ['type']),
});
const CONTAINER = obj(
  {
    name: DNS_LABEL,
    image: S,
    imagePullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] },
    command: { type: 'array', items: { type: 'string' } },
    args: { type: 'array', items: { type: 'string' } },
    workingDir: S,
    ports: {
      type: 'array',
      items: obj(
        {
          name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 15 },
          containerPort: { type: 'integer', minimum: 1, maximum: 65535 },
          protocol: { enum: ['TCP', 'UDP', 'SCTP'] },
        },
        ['containerPort'],
      ),
    },
    env: { type: 'array', items: obj({ name: S, value: { type: 'string' }, valueFrom: { type: 'object' } }, ['name']) },
    envFrom: { type: 'array' },
    livenessProbe: PROBE,
    readinessProbe: PROBE,
    startupProbe: PROBE,
    resources: obj({
      requests: obj({ cpu: QUANTITY, memory: QUANTITY, 'ephemeral-storage': QUANTITY }),
      limits: obj({ cpu: QUANTITY, memory: QUANTITY, 'ephemeral-storage': QUANTITY }),
    }),
    securityContext: SECURITY,
    volumeMounts: {
      type: 'array',
      items: obj({ name: DNS_LABEL, mountPath: { type: 'string', pattern: '^/' }, readOnly: { type: 'boolean' }, subPath: S }, ['name', 'mountPath']),
    },
  },
  ['name', 'image'],
);
const POD_SPEC = obj(
  {
    containers: { type: 'array', minItems: 1, items: CONTAINER },
    volumes: {
      type: 'array',
      items: obj(
        {
          name: DNS_LABEL,
          configMap: obj({ name: DNS_LABEL, items: { type: 'array' }, defaultMode: INT, optional: { type: 'boolean' } }, ['name']),
          emptyDir: obj({ medium: { enum: ['', 'Memory'] }, sizeLimit: QUANTITY }),
          persistentVolumeClaim: obj({ claimName: DNS_LABEL, readOnly: { type: 'boolean' } }, ['claimName']),
          secret: obj({ secretName: DNS_LABEL, defaultMode: INT, optional: { type: 'boolean' } }, ['secretName']),
        },
        ['name'],
      ),
    },
    securityContext: obj({ runAsNonRoot: { type: 'boolean' }, runAsUser: INT, runAsGroup: INT, fsGroup: INT, seccompProfile: SECURITY.properties.seccompProfile }),
    terminationGracePeriodSeconds: INT,
    automountServiceAccountToken: { type: 'boolean' },
    enableServiceLinks: { type: 'boolean' },
    serviceAccountName: DNS_LABEL,
    nodeSelector: LABELS,
  },
  ['containers'],
);
const K8S_SCHEMAS: Record<string, object> = {
  Deployment: obj(
    {
      apiVersion: { const: 'apps/v1' },
      kind: { const: 'Deployment' },
      metadata: METADATA,
      spec: obj(
        {
          replicas: INT,
          selector: obj({ matchLabels: LABELS }, ['matchLabels']),
          template: obj({ metadata: obj({ labels: LABELS, annotations: LABELS }, ['labels']), spec: POD_SPEC }, ['metadata', 'spec']),
          strategy: { type: 'object' },
          revisionHistoryLimit: INT,
          minReadySeconds: INT,
          progressDeadlineSeconds: INT,
        },
        ['selector', 'template'],
      ),
    },
    ['apiVersion', 'kind', 'metadata', 'spec'],
  ),
  Service: obj(
    {
      apiVersion: { const: 'v1' },
      kind: { const: 'Service' },
      metadata: METADATA,
      spec: obj(
        {
          type: { enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] },
          selector: LABELS,
          ports: {
            type: 'array',
            minItems: 1,
            items: obj(
              { name: DNS_LABEL, port: { type: 'integer', minimum: 1, maximum: 65535 }, targetPort: PORT_REF, protocol: { enum: ['TCP', 'UDP', 'SCTP'] }, appProtocol: S },
              ['port'],
            ),
          },
        },
        ['selector', 'ports'],
      ),
    },
    ['apiVersion', 'kind', 'metadata', 'spec'],
  ),
  ConfigMap: obj({ apiVersion: { const: 'v1' }, kind: { const: 'ConfigMap' }, metadata: METADATA, data: { type: 'object', additionalProperties: { type: 'string' } } }, [
    'apiVersion',
    'kind',
    'metadata',
    'data',
  ]),
};

describe('Kubernetes manifests', () => {
  type Doc = Record<string, any>; // manifests are checked field by field below
  const docs: Doc[] = [];
  for (const f of ['deployment.yaml', 'service.yaml', 'configmap.yaml', 'redis.yaml']) {
    for (const d of parseAllDocuments(readFileSync(join(DEPLOY, 'k8s', f), 'utf8'))) {
      assert.deepEqual(d.errors, [], `${f}: YAML errors`);
      if (d.contents !== null) docs.push(d.toJS() as Doc);
    }
  }
  const one = (kind: string, component = 'gateway') => {
    const list = docs.filter((d) => d.kind === kind && d.metadata.labels?.['app.kubernetes.io/component'] === component);
    assert.equal(list.length, 1, `one ${kind} of ${component}`);
    return list[0];
  };
  const deployment = one('Deployment');
  const service = one('Service');
  const configMap = one('ConfigMap');
  const redisDeployment = one('Deployment', 'redis');
  const redisService = one('Service', 'redis');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];

  it('match the Kubernetes schema of the fields they use', () => {
    const ajv = new Ajv({ allErrors: true, strict: true });
    for (const d of docs) {
      const validate = ajv.compile(K8S_SCHEMAS[d.kind] ?? { not: {} });
      assert.ok(validate(d), `${d.kind} ${d.metadata?.name}: ${ajv.errorsText(validate.errors, { separator: '\n' })}`);
    }
    // The schema is strict: a misspelt field fails.
    const typo = structuredClone(deployment);
    typo.spec.template.spec.containers[0].readinesProbe = typo.spec.template.spec.containers[0].readinessProbe;
    assert.equal(ajv.compile(K8S_SCHEMAS.Deployment)(typo), false);
  });

  it('select the pods they mean, on the ports the probes and the Service use', () => {
    const podLabels = deployment.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) assert.equal(podLabels[k], v, `selector ${k}`);
    for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(podLabels[k], v, `Service selector ${k}`);
    const ports: Array<{ name?: string; containerPort: number }> = container.ports;
    const resolvePort = (p: string | number) => (typeof p === 'number' ? p : ports.find((q) => q.name === p)?.containerPort);
    assert.equal(resolvePort(container.livenessProbe.httpGet.port), 8080);
    assert.equal(container.livenessProbe.httpGet.path, '/health/live');
    assert.equal(resolvePort(container.readinessProbe.httpGet.port), 8080);
    assert.equal(container.readinessProbe.httpGet.path, '/health/ready');
    assert.equal(resolvePort(service.spec.ports[0].targetPort), 8080, 'Service targetPort is the container port');
    const config = parseYaml(configMap.data['mcpeg.yaml']);
    assert.equal(config.server.port, 8080, 'the config listens on the container port');
    assert.equal(config.server.host, '0.0.0.0', 'the config binds all interfaces, so probes and the Service reach it');
  });

  it('run several gateway replicas on the Redis of redis.yaml (issue 18)', () => {
    assert.ok(deployment.spec.replicas > 1, 'several replicas');
    assert.equal(service.spec.sessionAffinity, undefined, 'no sticky sessions');
    const config = parseYaml(configMap.data['mcpeg.yaml']);
    assert.equal(config.state.store, 'redis');
    const url = new URL(config.state.redis.url);
    assert.equal(url.hostname, redisService.metadata.name, 'state.redis.url names the Redis Service');
    assert.equal(Number(url.port), redisService.spec.ports[0].port);
    const redisPod = redisDeployment.spec.template;
    for (const [k, v] of Object.entries(redisService.spec.selector)) assert.equal(redisPod.metadata.labels[k], v, `Redis Service selector ${k}`);
    assert.ok(
      Object.entries(service.spec.selector).some(([k, v]) => redisPod.metadata.labels[k] !== v),
      'the gateway Service does not select the Redis pod',
    );
    const redis = redisPod.spec.containers[0];
    assert.equal(redis.ports.find((p: { name: string }) => p.name === redisService.spec.ports[0].targetPort)?.containerPort, 6379);
    // No persistence: the gateway needs none (docs/scaling.md), and a read-only root filesystem stays read-only.
    assert.deepEqual(redis.args.slice(0, 4), ['--save', '', '--appendonly', 'no']);
    assert.equal(redis.securityContext.readOnlyRootFilesystem, true);
    assert.equal(redisPod.spec.securityContext.runAsNonRoot, true);
  });

  it('run locked down: non-root, read-only root, no privilege escalation, resources set', () => {
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory);
    // The image's numeric USER is the pod's user.
    const user = /^USER (\d+)/m.exec(readFileSync(join(DEPLOY, 'docker/Dockerfile'), 'utf8'));
    assert.equal(String(pod.securityContext.runAsUser), user?.[1]);
    // Service links would put MCPEG_SERVICE_HOST & co. in the environment, next to MCPEG_*__* overrides.
    assert.equal(pod.enableServiceLinks, false);
    assert.equal(container.image, `mcpeg:${PKG.version}`);
  });

  it('mount the ConfigMap as /etc/mcpeg and writable emptyDirs where the gateway writes', () => {
    const mounts: Array<{ name: string; mountPath: string; readOnly?: boolean }> = container.volumeMounts;
    const volume = (mountPath: string) => {
      const m = mounts.find((x) => x.mountPath === mountPath);
      assert.ok(m, `a volume at ${mountPath}`);
      return { mount: m, volume: pod.volumes.find((v: { name: string }) => v.name === m.name) };
    };
    const cfg = volume('/etc/mcpeg');
    assert.equal(cfg.volume.configMap.name, configMap.metadata.name);
    assert.equal(cfg.mount.readOnly, true);
    assert.ok('mcpeg.yaml' in configMap.data, 'the file the image CMD names: /etc/mcpeg/mcpeg.yaml');
    assert.ok(volume('/var/lib/mcpeg').volume.emptyDir, 'data: an emptyDir');
    assert.ok(volume('/tmp').volume.emptyDir, '/tmp: an emptyDir');
    const config = parseYaml(configMap.data['mcpeg.yaml']);
    for (const p of [config.paths.data, config.paths.workspace]) assert.ok(String(p).startsWith('/var/lib/mcpeg/'), `${p} is on the data volume`);
    const grace = pod.terminationGracePeriodSeconds;
    const cfgLoaded = loadConfig({ file: writeTmp('cm-grace.yaml', configMap.data['mcpeg.yaml']) });
    assert.ok(grace * 1000 > cfgLoaded.server.shutdown_timeout, 'terminationGracePeriodSeconds exceeds server.shutdown_timeout');
  });

  it('carry a config that `mcpeg validate` accepts with the container environment', () => {
    const file = writeTmp('configmap-mcpeg.yaml', configMap.data['mcpeg.yaml']);
    const env: NodeJS.ProcessEnv = { MCPEG_SERVER__HOST: '0.0.0.0' };
    for (const e of container.env ?? []) env[e.name] = e.value;
    const r = sh(process.execPath, [CLI, 'validate', '--config', file], { env: cleanEnv(env) });
    assert.equal(r.status, 0, out(r));
    assert.match(r.stdout, /valid \(0 backend\(s\), 3 plugin\(s\)\)/);
  });
});

function writeTmp(name: string, text: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
}

/** GET with an explicit Host header (fetch does not let one set it). */
function get(port: number, path: string, host?: string, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        headers: { ...(host ? { host } : {}), ...(body ? { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } : {}) },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts a command that logs "mcpeg listening on URL" to stderr; resolves once it does. */
async function startListening(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ proc: ChildProcess; stderr: () => string; stop(): Promise<number | null> }> {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(proc);
  let stderr = '';
  proc.stderr!.setEncoding('utf8');
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start listening:\n${stderr}`)), 20_000);
    proc.stderr!.on('data', (d: string) => {
      stderr += d;
      if (stderr.includes('mcpeg listening on')) {
        clearTimeout(timer);
        resolvePromise();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited with ${code} before listening:\n${stderr}`));
    });
  });
  return {
    proc,
    stderr: () => stderr,
    async stop() {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

describe('npm pack, then npm install -g of the tarball', () => {
  const stage = join(tmp, 'pack-src');
  const prefix = join(tmp, 'prefix');
  let tarball = '';
  let packed: string[] = [];
  const npm = (args: string[], cwd: string) => sh('npm', args, { cwd, env: cleanEnv(), timeout: 180_000 });

  it('packs a lean package: the compiled sources, bin, docs and deploy files, no tests', () => {
    // The source tree as git has it (no node_modules, no build), plus this build's dist/.
    const listed = sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: SRC });
    const files = listed.status === 0 ? listed.stdout.split('\0').filter(Boolean) : ['package.json', 'README.md', 'docs', 'deploy', 'src', 'test'];
    for (const f of files) {
      const from = join(SRC, f);
      if (!existsSync(from)) continue;
      mkdirSync(dirname(join(stage, f)), { recursive: true });
      cpSync(from, join(stage, f), { recursive: true, verbatimSymlinks: true });
    }
    cpSync(DIST, join(stage, 'dist'), { recursive: true, filter: (p) => !p.includes('node_modules') });
    // The build is done (dist/ is this test's own): `prepare` (tsc) is not run again here.
    const r = npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], stage);
    assert.equal(r.status, 0, out(r));
    const info = JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string; mode: number }> }>;
    tarball = join(tmp, info[0].filename);
    packed = info[0].files.map((f) => f.path);
    assert.ok(existsSync(tarball));
    for (const must of [
      'package.json',
      'README.md',
      PKG.bin.mcpeg,
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'deploy/install.sh',
      'deploy/systemd/mcpeg.service',
      'deploy/config/mcpeg.yaml',
      'deploy/scripts/start.sh',
      'docs/deploy.md',
      'dist/ui/index.html',
    ]) {
      assert.ok(packed.includes(must), `${must} is in the package`);
    }
    assert.ok(
      packed.some((p) => /^dist\/ui\/assets\/[\w-]+\.js$/.test(p)),
      'the console is shipped built (hashed assets)',
    );
    for (const p of packed) {
      assert.ok(!/^(test|src|bench|tools|examples|ui|dist\/test|dist\/bench)\//.test(p), `${p} should not be in the package`);
      assert.ok(!p.endsWith('.map') && (!p.endsWith('.ts') || p.endsWith('.d.ts')), `${p} should not be in the package (source maps, TypeScript sources)`);
    }
    const modes = new Map(info[0].files.map((f) => [f.path, f.mode]));
    assert.ok((modes.get('deploy/install.sh')! & 0o111) !== 0, 'install.sh stays executable');
    assert.match(readFileSync(join(stage, PKG.bin.mcpeg), 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });

  it('installs globally into a prefix; `mcpeg version` prints the package version', () => {
    assert.ok(tarball, 'packed');
    // Dependencies come from the npm cache when `npm ci` already fetched them, else from the registry.
    const r = npm(['install', '-g', tarball, '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], tmp);
    assert.equal(r.status, 0, out(r));
    const v = sh(join(prefix, 'bin/mcpeg'), ['version'], { env: cleanEnv() });
    assert.equal(v.status, 0, out(v));
    assert.equal(v.stdout.trim(), `mcpeg ${PKG.version}`);
    const help = sh(join(prefix, 'bin/mcpeg'), ['--help'], { env: cleanEnv() });
    assert.equal(help.status, 0, out(help));
    // The package's own deploy files came along (for `sudo $(npm root -g)/mcpeg/deploy/install.sh`).
    assert.ok(existsSync(join(prefix, 'lib/node_modules/mcpeg/deploy/install.sh')));
  });

  it('`mcpeg gateway --port N` serves /health/live and the built-in plugins, and stops on SIGTERM', async () => {
    assert.ok(existsSync(join(prefix, 'bin/mcpeg')), 'installed');
    const port = await freePort();
    const cwd = mkdtempSync(join(tmp, 'run-'));
    const adminPort = await freePort();
    const gw = await startListening(join(prefix, 'bin/mcpeg'), ['gateway', '--port', String(port)], {
      cwd,
      env: cleanEnv({ MCPEG_ADMIN__ENABLED: 'true', MCPEG_ADMIN__PORT: String(adminPort) }),
    });
    const live = await fetch(`http://127.0.0.1:${port}/health/live`);
    assert.equal(live.status, 200);
    assert.deepEqual(await live.json(), { status: 'ok' });
    // The web console, served by the admin listener from the installed package: built files, no front-end toolchain.
    const page = await fetch(`http://127.0.0.1:${adminPort}/admin/ui/`);
    assert.equal(page.status, 200);
    const script = /src="(\/admin\/ui\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
    assert.ok(script, 'the page names its script');
    const js = await fetch(`http://127.0.0.1:${adminPort}${script}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    const app = join(prefix, 'lib/node_modules/mcpeg');
    for (const tool of ['vite', 'preact', 'playwright-core']) assert.ok(!existsSync(join(app, 'node_modules', tool)), `${tool} is not installed with the package`);
    const client = await connectClient(`http://127.0.0.1:${port}/mcp`);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name);
      for (const prefixName of ['memory__', 'git__', 'editor__'])
        assert.ok(
          tools.some((n) => n.startsWith(prefixName)),
          `${prefixName}* in ${tools.join(' ')}`,
        );
    } finally {
      await client.close();
    }
    assert.equal(await gw.stop(), 0, gw.stderr());
  });

  it('runs as the container does: its CMD in the package directory, the ConfigMap config, the HEALTHCHECK', async () => {
    const app = join(prefix, 'lib/node_modules/mcpeg'); // what the image has in /app: dist/src and production dependencies
    const dockerfile = dockerInstructions(readFileSync(join(DEPLOY, 'docker/Dockerfile'), 'utf8'));
    const cmd = JSON.parse(dockerfile.filter((i) => i.op === 'CMD').at(-1)!.args) as string[];
    const healthcheck = JSON.parse(/\bCMD (\[.*\])$/.exec(dockerfile.find((i) => i.op === 'HEALTHCHECK')!.args)![1]) as string[];
    const configMap = parseAllDocuments(readFileSync(join(DEPLOY, 'k8s/configmap.yaml'), 'utf8'))[0].toJS() as { data: Record<string, string> };
    const config = writeTmp('etc-mcpeg.yaml', configMap.data['mcpeg.yaml']);
    const data = mkdtempSync(join(tmp, 'var-lib-mcpeg-'));
    const port = await freePort();
    // The image's environment, with the address and the data directory moved for this test:
    // loopback instead of 0.0.0.0, a free port instead of 8080, a temporary /var/lib/mcpeg.
    const env = cleanEnv({
      NODE_ENV: 'production',
      MCPEG_SERVER__HOST: '127.0.0.1',
      MCPEG_SERVER__PORT: String(port),
      MCPEG_SERVER__ALLOWED_HOSTS: '[mcpeg.example]',
      MCPEG_PATHS__DATA: join(data, 'data'),
      MCPEG_PATHS__WORKSPACE: join(data, 'workspace'),
      // The ConfigMap's state.store: redis, on the test Redis instead of the mcpeg-redis Service.
      MCPEG_STATE__REDIS__URL: REDIS_URL,
      MCPEG_STATE__REDIS__KEY_PREFIX: JSON.stringify(redisPrefixForPackaging), // an override's value is read as YAML
    });
    const argv = cmd.map((a) => (a === '/etc/mcpeg/mcpeg.yaml' ? config : a));
    assert.equal(argv[0], 'node');
    const gw = await startListening(process.execPath, argv.slice(1), { cwd: app, env });
    const probe = (e: NodeJS.ProcessEnv) => sh(process.execPath, healthcheck.slice(1), { env: e, timeout: 10_000 });
    assert.equal(probe(env).status, 0, 'HEALTHCHECK passes while the gateway serves');
    // Every endpoint is Host-checked (DNS rebinding): the Deployment's probes send Host: localhost,
    // which is always accepted; the pod IP as Host is refused like any unlisted name.
    const deployment = readFileSync(join(DEPLOY, 'k8s/deployment.yaml'), 'utf8');
    assert.equal(deployment.match(/- name: Host\n\s+value: localhost/g)?.length, 2, 'both probes send Host: localhost');
    assert.equal((await get(port, '/health/live', 'localhost')).status, 200);
    assert.equal((await get(port, '/health/ready', 'localhost')).status, 200);
    assert.equal((await get(port, '/health/ready', '10.1.2.3:8080')).status, 403);
    const init = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    const refused = await get(port, '/mcp', '10.1.2.3:8080', 'POST', init);
    assert.equal(refused.status, 403, refused.body);
    assert.match(refused.body, /MCPEG_ERR_HOST_FORBIDDEN/);
    assert.equal((await get(port, '/mcp', `mcpeg.example:${port}`, 'POST', init)).status, 200);
    assert.equal(await gw.stop(), 0, gw.stderr());
    assert.notEqual(probe(env).status, 0, 'HEALTHCHECK fails once it is gone');
  });
});
