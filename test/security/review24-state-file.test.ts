/**
 * Review 24. A gateway with a PID file keeps a state file beside it (`<pid file>.json`),
 * written again after each SIGHUP reload and SIGUSR1 log rotation (what `mcpeg reload` and
 * `mcpeg log-rotate` wait on). When it could not be written — a full disk (clients write
 * files through the editor, and what they write is not bounded in total), or its temporary
 * name taken by a directory — the write threw from the signal handler, and the gateway
 * process ended (an uncaught exception on SIGUSR1, an unhandled rejection on SIGHUP),
 * every client's session with it: a routine log rotation (logrotate's postrotate) ended the
 * service. Here the temporary name is a directory, through a real `mcpeg gateway` process
 * started with `--pid-file`. Now a warn line names the state file, the gateway serves on,
 * and once the state file can be written again it records the next rotation.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, rawSession, waitFor } from '../helpers/gateway.js';

describe('review 24: a state file that cannot be written', () => {
  let dir: string;
  let proc: ChildProcess;
  let stderr = '';
  let url: string;
  let exited: { code: number | null; signal: string | null } | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-r24-state-'));
    const config = join(dir, 'mcpeg.json');
    writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, paths: { data: join(dir, 'data'), workspace: join(dir, 'workspace') }, plugins: [] }));
    proc = spawn(process.execPath, [CLI, 'gateway', '--config', config, '--pid-file', join(dir, 'mcpeg.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-50_000)));
    proc.once('exit', (code, signal) => (exited = { code, signal }));
    url = (await waitFor(() => /mcpeg listening on (http:\/\/\S+)/.exec(stderr)?.[1], 'the gateway listening', 20_000)) as string;
  });
  after(() => {
    if (!exited) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const stateFile = () => join(dir, 'mcpeg.pid.json');
  const rotations = () => (JSON.parse(readFileSync(stateFile(), 'utf8')) as { logRotations: { count: number } }).logRotations.count;

  it('SIGUSR1 and SIGHUP leave the gateway serving, and the state file is written again once it can be', async () => {
    assert.equal(rotations(), 0);
    const tmp = `${stateFile()}.${proc.pid}.tmp`;
    mkdirSync(tmp);
    proc.kill('SIGUSR1');
    await waitFor(() => stderr.includes('cannot write the state file') || exited, 'a warn line or the exit', 10_000);
    proc.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 1500));
    // Old code: exit code 1 at the SIGUSR1 (EISDIR thrown from the signal handler).
    assert.equal(exited, undefined, `the gateway exited: ${JSON.stringify(exited)}: ${stderr.slice(-1500)}`);
    assert.match(stderr, /cannot write the state file/);
    assert.equal(rotations(), 0, 'the state file is as it was');
    const s = await rawSession(url);
    assert.equal(((await (await s.post({ jsonrpc: '2.0', id: 'p', method: 'ping' })).json()) as { id: string }).id, 'p');
    // Writable again: the next rotation is recorded (the reload and rotation before it were not).
    rmSync(tmp, { recursive: true });
    proc.kill('SIGUSR1');
    await waitFor(() => rotations() > 0, 'the rotation recorded', 10_000);
    assert.equal(exited, undefined);
  });
});
