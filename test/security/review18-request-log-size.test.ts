/**
 * Attack: a client makes requests fail with megabytes of its own text in them. Every failed
 * MCP request is a warn line of the request log (the default level, info, writes them),
 * and the line carried the client's method and request id and the error message whole: an
 * unknown method of 2 MB with an id of 2 MB wrote ~6 MB of log (the method twice), a
 * `tools/call` of an unknown 4 MB tool name ~4 MB. Twenty such requests from one
 * unauthenticated client wrote ~100 MB to the log. Now those texts are cut in the line (256
 * characters of a method or id, 2,048 of a message, with the length they had), scrubbed of
 * configured secrets before the cut. Performed against a real `mcpeg gateway` logging to a file.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, rawSession } from '../helpers/gateway.js';
import { MINIMAL_STDIO_BACKEND } from '../helpers/minimal-stdio-backend.js';

const BACKEND = MINIMAL_STDIO_BACKEND;

/** A configured secret (a backend's environment value): never in the log, whole or in part. */
const SECRET = 'sup3rs3cr3tv4lu3-0123456789';

describe('review 18: the request log and megabytes of client text', { timeout: 90_000 }, () => {
  let dir: string;
  let logFile: string;
  let proc: ChildProcess | undefined;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-review18-log-'));
    const backend = join(dir, 'backend.mjs');
    writeFileSync(backend, BACKEND);
    const config = join(dir, 'mcpeg.json');
    logFile = join(dir, 'gateway.log');
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0, access_log: false },
        logging: { level: 'info' },
        backends: { b: { type: 'mcp', command: process.execPath, args: [backend], env: { B_TOKEN: SECRET } } },
      }),
    );
    // --log-max-size 0: the file is not rotated, so it holds every line.
    proc = spawn(process.execPath, [CLI, 'gateway', '--config', config, '--log-file', logFile, '--log-max-size', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mcpeg did not start: ${stderr.slice(-2000)}`)), 20_000);
      proc!.stderr!.on('data', (d: Buffer) => {
        stderr = (stderr + String(d)).slice(-20_000);
        const m = /mcpeg listening on (http:\/\/\S+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
  });
  after(() => {
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('cuts them: twenty requests of 4 MB write kilobytes, and the lines still say what failed', async () => {
    const s = await rawSession(url);
    await new Promise((r) => setTimeout(r, 300));
    const start = statSync(logFile).size;
    const method = `m-${'x'.repeat(2_000_000)}`;
    const id = `i-${'y'.repeat(2_000_000)}`;
    const tool = `b__${'z'.repeat(4_000_000)}`;
    for (let i = 0; i < 10; i++) {
      const a = (await (await s.post({ jsonrpc: '2.0', id, method })).json()) as { error?: { code: number } };
      assert.equal(a.error?.code, -32601);
      const b = (await (await s.post({ jsonrpc: '2.0', id: `${'w'.repeat(250)}${SECRET}${i}`, method: 'tools/call', params: { name: tool, arguments: {} } })).json()) as {
        error?: { code: number };
      };
      assert.ok(b.error, JSON.stringify(b).slice(0, 200));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const grown = statSync(logFile).size - start;
    assert.ok(grown < 200_000, `twenty failed requests wrote ${(grown / 1024 / 1024).toFixed(1)} MiB to the log`);
    const text = readFileSync(logFile, 'utf8').slice(start);
    const lines = text.split('\n').filter((l) => l.includes('"outcome":"error"'));
    assert.equal(lines.length, 20, text.slice(0, 2000));
    assert.ok(
      lines.some((l) => l.includes('"method":"m-xxx') && l.includes('(2000002 characters)')),
      lines[0],
    );
    assert.ok(
      lines.some((l) => l.includes('Unknown tool: b__zzz') && l.includes('characters)"')),
      lines[1],
    );
    // The ids of the tools/call requests are cut 6 characters into the secret: scrubbed first, nothing of it is left.
    for (const l of lines) assert.ok(!l.includes(SECRET.slice(0, 6)), `a secret's start in the log: ${l.slice(0, 600)}`);
  });
});
