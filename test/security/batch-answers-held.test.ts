/**
 * A JSON-RPC batch (protocol 2025-03-26) over Streamable HTTP was answered with one JSON
 * array once its last request was done, and the answers ready before it were held until
 * then, outside every bound: a batch of 1,000 `read_file` calls of a 1 MB file (a POST of
 * ~150 KB) grew the gateway by ~850 MB, and a few such batches at once end it. Now an answer
 * ready while others are still running turns the POST into an SSE stream (the transport
 * allows either): each answer goes out when it is ready, held only to the edge's bounds on
 * unsent bytes (`server.max_unsent_bytes`, `send_timeout`) and the event store's. A client
 * that reads gets every answer. Against a real `mcpeg gateway` process with the editor.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { spawnEditorGateway, type EditorGateway } from '../helpers/editor-gateway.js';
import { rawSession, readSse } from '../helpers/gateway.js';

const MiB = 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

describe('a batch of large answers (2025-03-26)', () => {
  let dir: string;
  let gw: EditorGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-batch-held-'));
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
    gw = await spawnEditorGateway(file);
  });
  after(async () => {
    await gw?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const batch = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'editor__read_file', arguments: { path: 'big.txt' } } }));

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
    // Old code: ~850 MB held until the last answer; now the 32 MiB of unsent bytes, the event store and garbage.
    assert.ok(peak < 400 * MiB, `the gateway grew by ${Math.round(peak / MiB)} MiB for one batch of 1,000 reads of 1 MB`);
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
