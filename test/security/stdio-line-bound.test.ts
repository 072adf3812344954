/**
 * `mcpeg stdio` reads one message per line. Before, node's readline held a line whole
 * until its line break: a client writing without one grew the gateway's memory without
 * limit (256 MiB written, 256 MiB and more held). Now a line is bounded by
 * server.max_body_bytes, as an HTTP POST's body is: past it the line is dropped as it
 * arrives, the client gets -32000 (id null), and the next lines are served. Against a real
 * `mcpeg stdio` process, writing its stdin as a client would.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, ROOT } from '../helpers/gateway.js';

const LIMIT = 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('mcpeg stdio: a line is bounded by server.max_body_bytes', () => {
  let proc: ChildProcessWithoutNullStreams;
  const lines: Array<Record<string, unknown>> = [];
  let waiting: (() => void) | undefined;
  let out = '';
  let stderr = '';

  const send = (msg: unknown) => proc.stdin.write(`${JSON.stringify(msg)}\n`);
  const write = (chunk: string | Buffer) => new Promise<void>((r) => (proc.stdin.write(chunk) ? r() : proc.stdin.once('drain', r)));
  async function next(match: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    for (;;) {
      const i = lines.findIndex(match);
      if (i >= 0) return lines.splice(i, 1)[0]!;
      await new Promise<void>((r, reject) => {
        const t = setTimeout(() => reject(new Error(`no such line; stderr: ${stderr.slice(-1500)}`)), 15_000);
        waiting = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-stdio-bound-'));
    const config = join(dir, 'mcpeg.yaml');
    const hello = join(ROOT, 'examples/plugins/hello-plugin.mjs');
    writeFileSync(config, `server: { max_body_bytes: ${LIMIT} }\npaths: { data: ./data, workspace: ./workspace }\nplugins:\n  - name: hello\n    module: ${hello}\n`);
    proc = spawn(process.execPath, [CLI, 'stdio', '--config', config], { stdio: ['pipe', 'pipe', 'pipe'] });
    proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-20_000)));
    proc.stdout.on('data', (d: Buffer) => {
      out += String(d);
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(out.slice(0, nl)) as Record<string, unknown>);
        out = out.slice(nl + 1);
      }
      waiting?.();
    });
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    await next((m) => m.id === 1);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  });

  after(() => {
    proc?.kill('SIGKILL');
  });

  it('a line over the bound is answered with -32000 (id null), and the next line is served', async () => {
    // 3 MiB in 64 KiB writes, then its line break: one error, not one per write.
    const piece = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 48; i++) await write(piece);
    await write('\n');
    send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const err = await next((m) => m.id === null);
    assert.equal((err.error as { code: number }).code, -32000);
    assert.match((err.error as { message: string }).message, new RegExp(`over ${LIMIT} bytes \\(server\\.max_body_bytes\\)`));
    const list = await next((m) => m.id === 2);
    assert.ok(JSON.stringify(list.result).includes('hello__greet'));
    assert.equal(lines.filter((m) => m.id === null).length, 0, 'one error for the long line');
  });

  it('256 MiB without a line break: the gateway does not hold it (RSS grows far less), and keeps serving', async () => {
    const before = rssBytes(proc.pid!);
    const mib = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 256; i++) await write(mib);
    const grown = rssBytes(proc.pid!) - before;
    // The line's end and a ping first, so a failure below leaves no line for the next case.
    await write('\n');
    send({ jsonrpc: '2.0', id: 3, method: 'ping' });
    assert.equal((await next((m) => m.id === null)).id, null);
    assert.deepEqual((await next((m) => m.id === 3)).result, {});
    // Holding the line took all 256 MiB and more (258 on the old code); the reads dropped as they come are
    // garbage a GC returns in its time (68 MiB on Node 24 in CI before it ran).
    assert.ok(grown < 128 * 1024 * 1024, `RSS grew by ${Math.round(grown / 1024 / 1024)} MiB while 256 MiB were written without a line break`);
  });

  it('a line just under the bound is still parsed (a Parse error, not the size error); blank and CRLF lines are fine', async () => {
    await write(`${'y'.repeat(LIMIT - 10)}\n`);
    const err = await next((m) => m.id === null);
    assert.equal((err.error as { code: number }).code, -32700);
    await write('\n  \r\n');
    await write(`${JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping' })}\r\n`);
    assert.deepEqual((await next((m) => m.id === 4)).result, {});
    assert.equal(lines.length, 0, `unexpected lines: ${JSON.stringify(lines).slice(0, 300)}`);
  });
});
