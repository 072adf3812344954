/**
 * `mcpeg stdio` and what backends send to a client that does not read. Review 20 made the
 * gateway stop reading a client's stdin while its stdout was backed up, which stops the
 * client's own requests; what backends send on their own (progress, log messages, resource
 * updates) still went to stdout and piled up in the gateway's memory: a backend sending
 * progress notifications during a call grew the gateway by more than it sent (224 MiB for
 * 200 MiB here), for as long as the client did not read. Now stdout is bounded as the HTTP edge
 * bounds a connection (edge/unsent.ts): past `server.max_unsent_bytes` waiting, or
 * `server.send_timeout` without the client taking anything, the session ends as if the
 * client had gone (a warn line says which; the process exits 1). A client that reads, even slowly, gets every
 * notification and the result. Against real `mcpeg stdio` processes and a real stdio
 * backend.
 */
import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spawnStdioGateway, type StdioGateway } from '../helpers/stdio-gateway.js';

const MiB = 1024 * 1024;

/** A stdio backend whose tool `flood` sends `count` progress notifications of `size` characters (as fast as its stdout takes them), then answers. */
const FLOODING_BACKEND = `
import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
const drained = () => new Promise((r) => process.stdout.once('drain', r));
createInterface({ input: process.stdin }).on('line', async (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize')
    send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'b', version: '1' } } });
  else if (m.method === 'tools/list')
    send({ id: m.id, result: { tools: [{ name: 'flood', inputSchema: { type: 'object', properties: { count: { type: 'number' }, size: { type: 'number' } } } }] } });
  else if (m.method === 'tools/call') {
    const { count, size } = m.params.arguments;
    const token = m.params._meta?.progressToken;
    const text = 'p'.repeat(size);
    for (let i = 1; i <= count; i++) {
      if (!send({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: count, message: text } })) await drained();
    }
    send({ id: m.id, result: { content: [{ type: 'text', text: 'done ' + count }] } });
  } else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });
});
`;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

const dirs: string[] = [];
const procs: ChildProcessWithoutNullStreams[] = [];

async function startStdio(server: Record<string, unknown>): Promise<StdioGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-stdio-unsent-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'backend.mjs'), FLOODING_BACKEND);
  const config = join(dir, 'mcpeg.json');
  writeFileSync(config, JSON.stringify({ server, backends: { b: { type: 'mcp', command: process.execPath, args: [join(dir, 'backend.mjs')] } } }));
  const g = spawnStdioGateway(config);
  procs.push(g.proc);
  return g;
}

/** initialize → initialized; returns the flood tool's name as the gateway lists it. */
async function handshake(g: StdioGateway): Promise<string> {
  const send = (m: object) => g.proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
  send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  assert.ok((await g.next()).result, 'initialize answered');
  send({ method: 'notifications/initialized' });
  send({ id: 2, method: 'tools/list' });
  const list = (await g.next()) as { result: { tools: { name: string }[] } };
  const tool = list.result.tools.find((t) => t.name.endsWith('flood'));
  assert.ok(tool, `the backend's tool is listed: ${JSON.stringify(list)}`);
  return tool.name;
}

function callFlood(g: StdioGateway, tool: string, count: number, size: number): void {
  g.proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: tool, arguments: { count, size }, _meta: { progressToken: 'p' } } })}\n`);
}

/** `what` is a function when it reports something measured meanwhile. */
const within = <T>(p: Promise<T>, ms: number, what: string | (() => string)) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not within ${ms} ms: ${typeof what === 'string' ? what : what()}`)), ms))]);

after(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('mcpeg stdio: what backends send to a client that does not read', () => {
  it('past server.max_unsent_bytes the session ends instead of the gateway holding it', async () => {
    const g = await startStdio({ max_unsent_bytes: 8 * MiB, send_timeout: '0s' });
    const tool = await handshake(g);
    await new Promise((r) => setTimeout(r, 300));
    const before = rssBytes(g.proc.pid!);
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, rssBytes(g.proc.pid!) - before)), 100);
    callFlood(g, tool, 3200, 64 * 1024); // 200 MiB of progress, nothing read
    const code = await within(g.exited, 30_000, () => `the gateway ending the session; it grew ${Math.round(peak / MiB)} MiB; stderr: ${g.stderr().slice(-1000)}`).finally(() =>
      clearInterval(sample),
    );
    assert.equal(code, 1, 'mcpeg stdio exits 1 when its client stops reading');
    // What it parsed and dropped after the end is garbage until the GC runs (Node 24 ran it late: 66 MiB once).
    assert.ok(peak < 128 * MiB, `the gateway grew by ${Math.round(peak / MiB)} MiB holding what its client did not read`);
    assert.match(g.stderr(), /past server\.max_unsent_bytes/);
  });

  it('past server.send_timeout without the client taking anything the session ends', async () => {
    const g = await startStdio({ send_timeout: '2s' });
    const tool = await handshake(g);
    const t0 = Date.now();
    callFlood(g, tool, 200, 16 * 1024); // 3 MiB: more than the pipes hold
    const code = await within(g.exited, 20_000, `the gateway ending the session; stderr: ${g.stderr().slice(-1000)}`);
    assert.equal(code, 1, 'mcpeg stdio exits 1 when its client stops reading');
    assert.ok(Date.now() - t0 >= 1500, 'not before send_timeout');
    assert.match(g.stderr(), /took none of their answer for server\.send_timeout/);
  });

  it('one message larger than server.max_unsent_bytes still reaches a client that reads it', async () => {
    const g = await startStdio({ max_unsent_bytes: 1 * MiB });
    const tool = await handshake(g);
    callFlood(g, tool, 1, 3 * MiB);
    const m = await within(g.next(), 15_000, `the progress notification; stderr: ${g.stderr().slice(-1000)}`);
    assert.equal(m.params?.progress, 1);
    assert.equal(String(m.params?.message).length, 3 * MiB);
    assert.equal((await within(g.next(), 15_000, 'the result')).result?.content?.[0]?.text, 'done 1');
    assert.equal(g.proc.exitCode, null, 'the session goes on');
    g.proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping' })}\n`);
    assert.deepEqual((await g.next()).id, 4);
  });

  it('a client that reads, even slowly, gets every notification and the result', async () => {
    const g = await startStdio({ send_timeout: '2s', max_unsent_bytes: 8 * MiB });
    const tool = await handshake(g);
    callFlood(g, tool, 300, 16 * 1024);
    let progress = 0;
    for (;;) {
      const m = await within(g.next(), 10_000, `message after ${progress} progress notifications; stderr: ${g.stderr().slice(-1000)}`);
      if (m.method === 'notifications/progress') {
        progress++;
        assert.equal(m.params?.progress, progress, 'in order');
        // Slow, well within send_timeout: a pause every 50 notifications.
        if (progress % 50 === 0) await new Promise((r) => setTimeout(r, 700));
        continue;
      }
      assert.equal(m.id, 3);
      assert.equal(m.result?.content?.[0]?.text, 'done 300');
      break;
    }
    assert.equal(progress, 300);
    assert.equal(g.proc.exitCode, null, 'the session goes on');
    g.proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'ping' })}\n`);
    assert.deepEqual((await g.next()).id, 4);
  });
});
