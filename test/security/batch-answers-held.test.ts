/**
 * A JSON-RPC batch (protocol 2025-03-26) over Streamable HTTP was answered with one JSON
 * array once its last request was done, and the answers ready before it were held until
 * then, outside every bound: a batch of 1,000 `read_file` calls of a 1 MB file (a POST of
 * ~150 KB) grew the gateway by ~850 MB, and a few such batches at once end it. Now an answer
 * ready while others are still running turns the POST into an SSE stream (the transport
 * allows either): each answer goes out when it is ready, held only to the edge's bounds on
 * unsent bytes (`server.max_unsent_bytes`, `send_timeout`) and the event store's. A client
 * that reads gets every answer. Against a real `mcpeg gateway` process with the editor.
 *
 * The same batch on the connections whose messages share one channel, legacy SSE and
 * `mcpeg stdio`, was held the same way (then written as one array, or its error). Now its
 * answers wait as their JSON texts, counted, and past 1 MiB each goes out alone as it is
 * ready, under the channel's own bounds (the legacy stream's 16 MiB unread, stdio's
 * `max_unsent_bytes`); a batch of small answers is still one array.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { spawnEditorGateway, type EditorGateway } from '../helpers/editor-gateway.js';
import { rawSession, readSse, type SseEvent } from '../helpers/gateway.js';
import { spawnStdioGateway, type StdioMessage } from '../helpers/stdio-gateway.js';

const MiB = 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** A config serving the editor on a workspace holding big.txt (1 MB); its file name. */
function editorConfig(dir: string): string {
  const ws = join(dir, 'workspace');
  mkdirSync(ws);
  writeFileSync(join(ws, 'big.txt'), 'x'.repeat(1_000_000));
  const file = join(dir, 'mcpeg.yaml');
  writeFileSync(
    file,
    stringify({
      server: { host: '127.0.0.1', port: 0, max_unsent_bytes: 32 * MiB },
      paths: { data: join(dir, 'data'), workspace: ws },
      plugins: [{ name: 'editor' }],
    }),
  );
  return file;
}

const batch = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'editor__read_file', arguments: { path: 'big.txt' } } }));

/** Samples a process's RSS growth every 100 ms for `ms`; the peak. */
async function peakGrowth(pid: number, ms: number): Promise<number> {
  const before = rssBytes(pid);
  let peak = 0;
  const sample = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid) - before);
    } catch {
      // the process has exited
    }
  }, 100);
  await new Promise((r) => setTimeout(r, ms));
  clearInterval(sample);
  return peak;
}

describe('a batch of large answers (2025-03-26)', () => {
  let dir: string;
  let gw: EditorGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-batch-held-'));
    gw = await spawnEditorGateway(editorConfig(dir));
  });
  after(async () => {
    await gw?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a client that does not read: the answers are not all held by the gateway', async () => {
    const s = await rawSession(gw.g.url, '2025-03-26');
    const pid = gw.g.proc.pid!;
    const before = rssBytes(pid);
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, rssBytes(pid) - before)), 100);
    const abort = new AbortController();
    const res = await s.post(batch(1000), { signal: abort.signal });
    // Nothing is read; the gateway goes on with the batch's calls.
    await new Promise((r) => setTimeout(r, 8000));
    clearInterval(sample);
    abort.abort();
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    // Old code: ~850 MB held until the last answer; now the 32 MiB of unsent bytes, the event store and garbage (the
    // reads' garbage heap: up to ~450 MiB on Node 24, whose V8 collects later than 20 and 22).
    assert.ok(peak < 600 * MiB, `the gateway grew by ${Math.round(peak / MiB)} MiB for one batch of 1,000 reads of 1 MB`);
    // It serves on.
    assert.equal((await (await s.post({ jsonrpc: '2.0', id: 'p', method: 'ping' })).json()).id, 'p');
  });

  it('a client that reads gets every answer, each once', async () => {
    const s = await rawSession(gw.g.url, '2025-03-26');
    const res = await s.post(batch(20)); // 20 MB: within max_unsent_bytes even if the reader falls behind
    assert.equal(res.status, 200);
    const seen = new Set<number>();
    if (res.headers.get('content-type') === 'application/json') {
      for (const a of (await res.json()) as { id: number }[]) seen.add(a.id);
    } else {
      for await (const e of readSse(res)) {
        const m = JSON.parse(e.data) as { id: number; result?: { content: { text: string }[] } };
        assert.ok(!seen.has(m.id), `answer ${m.id} twice`);
        assert.equal(m.result?.content[0]?.text.length, 1_000_000);
        seen.add(m.id);
      }
    }
    assert.equal(seen.size, 20);
  });
});

describe('a batch of large answers on legacy SSE (2025-03-26)', () => {
  let dir: string;
  let gw: EditorGateway;
  let origin: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-batch-held-sse-'));
    gw = await spawnEditorGateway(editorConfig(dir));
    origin = new URL(gw.g.url).origin;
  });
  after(async () => {
    await gw?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A legacy SSE connection, initialized: its events, and a POST to its messages endpoint. */
  async function legacy(abort: AbortController) {
    const res = await fetch(`${origin}/sse`, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
    assert.equal(res.status, 200);
    const events = readSse(res);
    const next = async (): Promise<SseEvent> => {
      const e = await events.next();
      assert.ok(!e.done, 'the stream ended');
      return e.value;
    };
    const endpoint = new URL((await next()).data, origin);
    const post = async (body: unknown) =>
      assert.equal((await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).status, 202);
    await post({ jsonrpc: '2.0', id: 'i', method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    assert.equal(JSON.parse((await next()).data).id, 'i');
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return { next, post };
  }

  it('a client that does not read its stream: the answers are not all held by the gateway', async () => {
    const abort = new AbortController();
    const { post } = await legacy(abort);
    await post(batch(1000));
    // Old code: ~890 MiB held until the last answer; now the stream's 16 MiB unread (then it is closed) and garbage (up to
    // ~410 MiB on Node 24).
    const peak = await peakGrowth(gw.g.proc.pid!, 8000);
    abort.abort();
    assert.ok(peak < 600 * MiB, `the gateway grew by ${Math.round(peak / MiB)} MiB for one batch of 1,000 reads of 1 MB`);
    assert.equal((await gw.call('read_file', { path: 'big.txt' })).text.length, 1_000_000, 'another client is served');
  });

  it('a client that reads gets every answer, each once; a batch of small answers is one array', async () => {
    const abort = new AbortController();
    const { next, post } = await legacy(abort);
    await post(batch(20));
    const seen = new Set<number>();
    while (seen.size < 20) {
      const m = JSON.parse((await next()).data) as { id: number; result?: { content: { text: string }[] } } | { id: number }[];
      for (const a of (Array.isArray(m) ? m : [m]) as { id: number; result?: { content: { text: string }[] } }[]) {
        assert.ok(!seen.has(a.id), `answer ${a.id} twice`);
        assert.equal(a.result?.content[0]?.text.length, 1_000_000);
        seen.add(a.id);
      }
    }
    await post([1, 2, 3].map((id) => ({ jsonrpc: '2.0', id, method: 'ping' })));
    const small = JSON.parse((await next()).data) as { id: number }[];
    assert.deepEqual(small.map((a) => a.id).sort(), [1, 2, 3]);
    abort.abort();
  });
});

describe('a batch of large answers on mcpeg stdio (2025-03-26)', () => {
  const dirs: string[] = [];
  const procs: ChildProcessWithoutNullStreams[] = [];
  after(() => {
    for (const p of procs) p.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A `mcpeg stdio` process on the editor config, initialized. */
  async function stdio() {
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-batch-held-stdio-'));
    dirs.push(dir);
    const g = spawnStdioGateway(editorConfig(dir));
    procs.push(g.proc);
    g.send({ jsonrpc: '2.0', id: 'i', method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    assert.equal((await g.next()).id, 'i');
    g.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return g;
  }

  it('a client that does not read: the answers are not all held, and the session ends at max_unsent_bytes', async () => {
    const g = await stdio();
    g.send(batch(1000));
    // Old code: every answer held until the last (~700 MB after 8 s here, still growing; the array then past V8's
    // longest string), the process serving on. Now the answers go out alone: past 32 MiB unsent the session ends and
    // the process exits; what it grows by is the reads still running until then, garbage.
    const peak = await peakGrowth(g.proc.pid!, 8000);
    assert.equal(await Promise.race([g.exited, 'running']), 1, `exit code, 8 s after the batch: ${g.stderr().slice(-1500)}`);
    assert.ok(peak < 600 * MiB, `the gateway grew by ${Math.round(peak / MiB)} MiB for one batch of 1,000 reads of 1 MB`);
    assert.match(g.stderr(), /max_unsent_bytes/);
  });

  it('a client that reads gets every answer, each once; a batch of small answers is one line, an array', async () => {
    const g = await stdio();
    g.send(batch(20));
    const seen = new Set<number>();
    while (seen.size < 20) {
      const m = await g.next<StdioMessage | StdioMessage[]>();
      for (const a of Array.isArray(m) ? m : [m]) {
        assert.ok(!seen.has(a.id as number), `answer ${a.id} twice`);
        assert.equal(a.result?.content?.[0]?.text.length, 1_000_000);
        seen.add(a.id as number);
      }
    }
    g.send([1, 2, 3].map((id) => ({ jsonrpc: '2.0', id, method: 'ping' })));
    const small = await g.next<{ id: number }[]>();
    assert.deepEqual(small.map((a) => a.id).sort(), [1, 2, 3]);
    g.proc.stdin.end();
    assert.equal(await g.exited, 0);
  });
});
