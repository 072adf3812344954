/**
 * Review 3 of issue 16 item 4 (max_processes), as an attacker: at the ceiling a call
 * shares a process keyed by its client's capability set, and waits when none is free.
 * Each waiting call held its own copy of the set's canonical JSON (the key), and the
 * pool compared and hashed those keys on every pass over the queue. A client that
 * declares a few MB of capabilities (initialize bodies may be 4 MB) and sends its 128
 * concurrent calls made the gateway hold 128 copies: up to 4,096 waiting calls × 4 MB, far
 * beyond any heap. The key is now a digest computed once per capability set, and a set of
 * more than 64 KiB of JSON gets no shared process at all (MCPEG_ERR_INVALID_PARAMS): its
 * canonical JSON alone cost up to a second of the event loop per set.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, startGateway, waitFor } from '../helpers/gateway.js';

/** Under the 64 KiB a shared process's key may be (process-pool.ts). */
const COPY_BYTES = 60_000;
const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

describe('review3: calls waiting for a process do not copy their client’s capabilities', { timeout: 60_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  const clients: Client[] = [];
  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await gw?.close();
  });

  it('100 waiting calls of a client with 60 KB of capabilities queue at once, and hold far less than 100 copies of them; 2 MB of them are refused', async () => {
    gw = await startGateway({
      server: { max_body_bytes: 4 * 1024 * 1024 },
      backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], max_processes: 2, timeout: '60s' } },
    });
    const pool = gw.gw.registry.backend('lite')!.processes!;
    const url = `${gw.base}/servers/lite/mcp`;
    // The one client process is busy until the test lets it go (its client answers the backend's question then).
    let letGo = () => {};
    const gate = new Promise<void>((r) => (letGo = r));
    const busy = await connectClient(url, { name: 'busy', capabilities: { sampling: {} } });
    busy.setRequestHandler(CreateMessageRequestSchema, async () => {
      await gate;
      return { model: 'm', role: 'assistant', content: { type: 'text', text: 'done' } };
    });
    clients.push(busy);
    const holding = busy.callTool({ name: 'ask', arguments: {} }, undefined, { timeout: 60_000 });
    await waitFor(() => pool.size === 1 || undefined, 'the busy client’s process');

    // Past the bound: refused at once, nothing queued. Since review 12 the gateway refuses such a client at initialize
    // (64 KiB of capabilities and clientInfo together), before any call could reach the pool's own check of the same size.
    await assert.rejects(
      connectClient(url, { name: 'huge', capabilities: { experimental: { blob: { data: 'x'.repeat(2 * 1024 * 1024) } } } }),
      /capabilities too large|at most 65536 characters of JSON/,
    );
    assert.equal(pool.waiting, 0);

    // 100 waiting calls of a client with almost no capabilities, then 100 of one with COPY_BYTES of them: what the
    // second hundred adds beyond the first is what the capabilities cost (100 copies would be 6 MB at the least).
    const small = await connectClient(url, { name: 'small', capabilities: { experimental: { blob: { data: 'x' } } } });
    const big = await connectClient(url, { name: 'big', capabilities: { experimental: { blob: { data: 'x'.repeat(COPY_BYTES) } } } });
    clients.push(small, big);
    const queue = (c: Client, tag: string) =>
      Array.from({ length: 100 }, (_, i) =>
        c.callTool({ name: 'echo', arguments: { key: `${tag}${i}` } }, undefined, { timeout: 60_000 }).then(
          (r) => (r.structuredContent as { key: string }).key,
          (e: Error) => e.message,
        ),
      );
    let calls: Array<Promise<string>> = [];
    try {
      let before = heapMb();
      calls = queue(small, 's');
      await waitFor(() => pool.waiting === 100 || undefined, '100 calls waiting for a process', 20_000);
      await new Promise((r) => setTimeout(r, 300)); // a few passes over the queue
      const base = heapMb() - before;
      before = heapMb();
      const started = Date.now();
      calls = [...calls, ...queue(big, 'k')];
      await waitFor(() => pool.waiting === 200 || undefined, '100 more calls waiting for a process', 20_000);
      const queuedMs = Date.now() - started;
      assert.ok(queuedMs < 3000, `100 calls took ${queuedMs} ms to reach the queue`);
      await new Promise((r) => setTimeout(r, 300));
      const grown = heapMb() - before;
      const copies = (100 * COPY_BYTES) / 2 ** 20;
      assert.ok(
        grown - base < copies / 2,
        `100 waiting calls with ${COPY_BYTES} bytes of capabilities took ${(grown - base).toFixed(1)} MB more than 100 without (${base.toFixed(1)} MB)`,
      );
    } finally {
      letGo();
    }
    // Every call is served once the process is free.
    await holding;
    assert.deepEqual(await Promise.all(calls), [...Array.from({ length: 100 }, (_, i) => `s${i}`), ...Array.from({ length: 100 }, (_, i) => `k${i}`)]);
  });
});
