/**
 * Review 3 of issue 16 item 4 (max_processes), as an attacker: at the ceiling a call
 * shares a process keyed by its client's capability set, and waits when none is free.
 * Each waiting call held its own copy of the set's canonical JSON (the key), and the
 * pool compared and hashed those keys on every pass over the queue. A client that
 * declares a few MB of capabilities (initialize bodies may be 4 MB) and sends its 128
 * concurrent calls made the gateway hold 128 copies: up to 4,096 waiting calls × 4 MB, far
 * beyond any heap. The key is now a digest computed once per capability set.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, startGateway, waitFor } from '../helpers/gateway.js';

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

  it('100 waiting calls of a client with 2 MB of capabilities queue at once, and hold far less than 100 copies of them', async () => {
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

    const big = await connectClient(url, { name: 'big', capabilities: { experimental: { blob: { data: 'x'.repeat(2 * 1024 * 1024) } } } });
    clients.push(big);
    const before = heapMb();
    const started = Date.now();
    const calls = Array.from({ length: 100 }, (_, i) =>
      big.callTool({ name: 'echo', arguments: { key: `k${i}` } }, undefined, { timeout: 60_000 }).then(
        (r) => (r.structuredContent as { key: string }).key,
        (e: Error) => e.message,
      ),
    );
    try {
      await waitFor(() => pool.waiting === 100 || undefined, '100 calls waiting for a process', 20_000);
      const queuedMs = Date.now() - started;
      assert.ok(queuedMs < 3000, `100 calls took ${queuedMs} ms to reach the queue`);
      await new Promise((r) => setTimeout(r, 300)); // a few passes over the queue
      const grown = heapMb() - before;
      assert.ok(grown < 40, `the gateway's heap grew by ${Math.round(grown)} MB for 100 waiting calls`);
    } finally {
      letGo();
    }
    // Every call is served once the process is free.
    await holding;
    const keys = await Promise.all(calls);
    assert.deepEqual(
      keys,
      Array.from({ length: 100 }, (_, i) => `k${i}`),
    );
  });
});
