/**
 * Regression: a benchmark saw "Unknown tool: echo__blob" for calls sent right after the
 * gateway printed "mcpeg listening on". The gateway listens once each backend's first
 * start is over (up with its catalog, or failed within connect_timeout), so a backend that
 * is slow to initialize is waited for; but one whose first start failed (slower than
 * connect_timeout, not yet accepting) had no known tools, and a call to one of its tools
 * was refused as unknown (-32602), as if the name were a typo. It is now refused as the
 * backend not being up yet (-32010, retryable), until its restart brings its tools.
 * A real `mcpeg gateway` child process, called the moment it says it listens.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { CLI, connectClient, textOf, waitFor } from '../helpers/gateway.js';
import { json, result, startRawMcpBackend, type RawMcpBackend } from '../helpers/raw-mcp-backend.js';

const dir = mkdtempSync(join(tmpdir(), 'mcpeg-startup-'));
const children: ChildProcess[] = [];
const backends: RawMcpBackend[] = [];

/** `mcpeg gateway` on a free port; resolves with its URL as soon as it prints that it listens. */
async function startCli(name: string, config: Record<string, unknown>): Promise<{ url: string; base: string }> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, logging: { level: 'warn' }, ...config }));
  const proc = spawn(process.execPath, [CLI, 'gateway', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(proc);
  let err = '';
  return new Promise((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      err += String(d);
      const m = /mcpeg listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ url: m[1], base: m[1].slice(0, -'/mcp'.length) });
    });
    proc.once('exit', (code) => reject(new Error(`mcpeg exited with ${code}: ${err}`)));
  });
}

async function backend(initializeDelay: (n: number) => number): Promise<RawMcpBackend> {
  const b = await startRawMcpBackend({ echo: (res, id) => json(res, result(id, { content: [{ type: 'text', text: 'echoed' }] })) }, { initializeDelay });
  backends.push(b);
  return b;
}

describe('calls sent the moment the gateway listens', () => {
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const b of backends) await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a backend slow to initialize (within connect_timeout) is waited for: its tool works at once', async () => {
    const slow = await backend((n) => (n === 1 ? 1500 : 0));
    const started = Date.now();
    const { url } = await startCli('slow', { backends: { slow: { type: 'mcp', url: slow.url } } });
    assert.ok(Date.now() - started >= 1400, 'listening only after the first initialize was answered');
    const client = await connectClient(url);
    try {
      assert.equal(textOf(await client.callTool({ name: 'slow__echo', arguments: {} })), 'echoed');
    } finally {
      await client.close();
    }
  });

  it('a backend whose first start failed: its tools are refused as not up yet (-32010), never unknown, until it is up', async () => {
    // The first initialize is never answered: the first start gives up after connect_timeout; the restart (2 s later) succeeds.
    const late = await backend((n) => (n === 1 ? Infinity : 0));
    const { url, base } = await startCli('late', {
      backends: { late: { type: 'mcp', url: late.url, connect_timeout: '500ms', restart: { initial_delay: '2s' } } },
    });
    const client = await connectClient(url);
    const own = await connectClient(`${base}/servers/late/mcp`);
    try {
      for (const [c, name] of [
        [client, 'late__echo'],
        [own, 'echo'],
      ] as const) {
        const err = await c.callTool({ name, arguments: {} }).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof McpError, `${name}: ${String(err)}`);
        assert.equal(err.code, -32010, `${name}: ${err.message}`);
        assert.match(err.message, /backend "late" is not up yet/);
        assert.deepEqual(err.data, { mcpegCode: 'MCPEG_ERR_BACKEND_UNAVAILABLE', tool: name, backend: 'late', backendTool: 'echo' });
      }
      // A name outside the backend's prefix is still unknown.
      const typo = await client.callTool({ name: 'other__echo', arguments: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(typo instanceof McpError && typo.code === -32602, String(typo));
      // Retrying, as -32010 asks, succeeds once the restart has brought the backend up.
      const text = await waitFor(() => client.callTool({ name: 'late__echo', arguments: {} }).then(textOf, () => undefined), 'late__echo to work after the restart', 15_000, 200);
      assert.equal(text, 'echoed');
    } finally {
      await client.close();
      await own.close();
    }
  });
});
