/**
 * Attack: terminal escape sequences in what a client or a backend makes the gateway log.
 * `mcpeg gateway --dev` on a terminal prints each log line readable (observability/pretty.ts)
 * and wrote the message, and any value without a space, as it came. A client's JSON-RPC
 * method named `ESC ] 0 ; PWNED BEL ESC [ 2 J` (unknown: logged at warn, in the message and
 * as `method=`) set the operator's terminal title and cleared the screen; OSC 52 writes the
 * clipboard on terminals that allow it, and a CR rewrites the line. The same for an unknown
 * tool's name, and for a backend's error text (the message of a failed call's line). Now
 * control characters are written escaped
 * (`\u001b`). Performed against a real `mcpeg gateway --dev` process whose stderr is a
 * terminal (util-linux `script` gives it one; skipped where there is none).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { CLI, freePort, MCP_HEADERS, rawSession, waitFor } from '../helpers/gateway.js';

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout?.includes('util-linux') === true;
const EVIL = '\u001b]0;PWNED\u0007\u001b[2J\rfake line\u009b31m';

describe('dev mode on a terminal: control characters from clients and backends (review 19)', {
  skip: hasScript || process.env.CI ? false : 'needs util-linux script for a terminal (in CI it runs, and fails without it)',
}, () => {
  let dir: string;
  let proc: ChildProcess;
  let out = '';
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-r19-tty-'));
    const file = join(dir, 'mcpeg.yaml');
    writeFileSync(
      file,
      stringify({
        server: { host: '127.0.0.1', port: 0 },
        paths: { data: join(dir, 'data'), workspace: join(dir, 'ws') },
        plugins: [{ name: 'memory' }],
        admin: { port: await freePort() },
      }),
    );
    // script runs the gateway on a pseudo-terminal and copies what it writes there to its stdout.
    const cmd = [process.execPath, CLI, 'gateway', '--dev', '--config', file].map((a) => `'${a}'`).join(' ');
    proc = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    url = await waitFor(() => /mcpeg listening url=(http:\/\/\S+)/.exec(out)?.[1], 'the gateway on its terminal', 20_000);
  });
  after(async () => {
    if (proc?.pid && proc.exitCode === null) {
      // The gateway is script's child, in a session of its own on the terminal (and takes SIGHUP for a reload): end it by its id.
      const children = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      for (const pid of children) process.kill(Number(pid), 'SIGKILL');
      await new Promise((r) => proc.once('exit', r));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a client's method name and tool name reach the terminal escaped", async () => {
    const s = await rawSession(url);
    const unknown = await s.post({ jsonrpc: '2.0', id: 1, method: EVIL, params: {} });
    assert.equal(((await unknown.json()) as { error: { code: number } }).error.code, -32601);
    // An unknown tool: its name is in the message of the line.
    const failed = await fetch(url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': s.sessionId, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: `x${EVIL}`, arguments: {} } }),
    });
    assert.equal(failed.status, 200);
    await waitFor(() => (out.match(/PWNED/g) ?? []).length >= 2, 'both lines on the terminal');
    const lines = out.split('\n').filter((l) => l.includes('PWNED'));
    for (const l of lines) {
      assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(l.replace(/\r$/, '')), `a raw control character reached the terminal: ${JSON.stringify(l)}`);
      assert.match(l, /\\u001b\]0;PWNED\\u0007\\u001b\[2J\\u000dfake line\\u009b31m/);
    }
  });
});
