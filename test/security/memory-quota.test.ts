/**
 * Issue #14 item 9 (memory): what an MCP client can make the memory plugin hold is bounded.
 * max_total_bytes caps the keys and values together (default 64 MiB, where max_keys ×
 * max_value_bytes alone allowed ~10 GiB); parallel stores cannot overshoot it; a refused
 * store loses nothing; a delete makes room; the accounting survives a restart. Patterns
 * and queries have a length bound. All through /mcp with the SDK client.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'mcpeg-sec-memory-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CAP = 20_000;
/** One entry is exactly 1000 bytes: a 6-byte key and a JSON string value of 994 bytes. */
const key = (i: number) => `k:${String(i).padStart(4, '0')}`;
const value = (c: string) => c.repeat(992);

const gatewayAt = (data: string) =>
  startGateway({
    paths: { data, workspace: join(dir, 'ws') },
    plugins: [{ name: 'mem', module: 'memory', config: { max_total_bytes: CAP, max_keys: 1000, max_value_bytes: 4096 } }],
  });

async function store(c: Client, k: string, v: unknown) {
  const r = await c.callTool({ name: 'mem__memory_store', arguments: { key: k, value: v } });
  return { isError: r.isError === true, text: textOf(r) };
}
const stats = async (c: Client) =>
  JSON.parse(((await c.readResource({ uri: 'mcpeg://memory/stats' })).contents[0] as { text: string }).text) as { keys: number; bytes: number; max_total_bytes?: number };

describe('memory: max_total_bytes', () => {
  const data = join(dir, 'quota');

  it('parallel stores fill the store exactly to the cap; the rest are refused with QUOTA_EXCEEDED and nothing is lost', async () => {
    const gw = await gatewayAt(data);
    const c = await connectClient(gw.url);
    try {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store(c, key(i), value('a'))));
      const ok = results.filter((r) => !r.isError);
      const refused = results.filter((r) => r.isError);
      assert.equal(ok.length, CAP / 1000, results.map((r) => r.text).join('\n'));
      assert.equal(refused.length, 40 - CAP / 1000);
      for (const r of refused) assert.match(r.text, /^memory_store failed \(QUOTA_EXCEEDED\): .*limit of 20000 bytes/);
      const s = await stats(c);
      assert.equal(s.bytes, CAP);
      assert.equal(s.keys, CAP / 1000);
      assert.equal(s.max_total_bytes, CAP);

      // Every acknowledged value is intact; the next store is refused.
      const stored = results.map((r, i) => (r.isError ? undefined : key(i))).filter((k): k is string => !!k);
      for (const k of stored) {
        const got = await c.callTool({ name: 'mem__memory_retrieve', arguments: { key: k } });
        assert.equal((got.structuredContent as { value: string }).value, value('a'), k);
      }
      assert.equal((await store(c, 'one-more', 'x')).isError, true);
      // Growing an existing value past the cap is refused too, and the old value stays.
      const grow = await store(c, stored[0], value('a') + 'b');
      assert.match(grow.text, /QUOTA_EXCEEDED/);
      assert.equal(((await c.callTool({ name: 'mem__memory_retrieve', arguments: { key: stored[0] } })).structuredContent as { value: string }).value, value('a'));
      // Replacing a value with one of the same size is not counted twice.
      assert.equal((await store(c, stored[0], value('z'))).isError, false);

      // A delete makes room for exactly one more entry.
      await c.callTool({ name: 'mem__memory_delete', arguments: { key: stored[1] } });
      assert.equal((await stats(c)).bytes, CAP - 1000);
      const again = await Promise.all([store(c, key(900), value('c')), store(c, key(901), value('c'))]);
      assert.deepEqual(again.map((r) => r.isError).sort(), [false, true]);
      assert.equal((await stats(c)).bytes, CAP);
    } finally {
      await c.close();
      await gw.close();
    }
  });

  it('the accounting is the same after a restart: still full, still refusing', async () => {
    const gw = await gatewayAt(data);
    const c = await connectClient(gw.url);
    try {
      const s = await stats(c);
      assert.equal(s.bytes, CAP);
      assert.equal(s.keys, CAP / 1000);
      const r = await store(c, 'after-restart', value('d'));
      assert.equal(r.isError, true);
      assert.match(r.text, /QUOTA_EXCEEDED/);
      await c.callTool({ name: 'mem__memory_clear', arguments: { confirm: true } });
      assert.equal((await stats(c)).bytes, 0);
      assert.equal((await store(c, 'after-clear', value('e'))).isError, false);
    } finally {
      await c.close();
      await gw.close();
    }
  });

  it('the default cap is 64 MiB', async () => {
    const gw = await startGateway({ paths: { data: join(dir, 'default'), workspace: join(dir, 'ws') }, plugins: [{ name: 'memory' }] });
    const c = await connectClient(gw.url);
    try {
      assert.equal((await c.readResource({ uri: 'mcpeg://memory/stats' })).contents.length, 1);
      const s = JSON.parse(((await c.readResource({ uri: 'mcpeg://memory/stats' })).contents[0] as { text: string }).text);
      assert.equal(s.max_total_bytes, 64 * 1024 * 1024);
    } finally {
      await c.close();
      await gw.close();
    }
  });
});

describe('memory: other client-sized inputs are bounded', () => {
  it('a glob pattern or search query longer than 1024 characters is refused before it runs', async () => {
    const gw = await gatewayAt(join(dir, 'patterns'));
    const c = await connectClient(gw.url);
    try {
      for (const [tool, args] of [
        ['mem__memory_list', { pattern: '*a'.repeat(600) }],
        ['mem__memory_search', { query: 'q'.repeat(1025) }],
      ] as const) {
        await assert.rejects(c.callTool({ name: tool, arguments: args }), (err: Error & { code?: number }) => {
          assert.equal(err.code, -32602, err.message);
          assert.match(err.message, /must NOT have more than 1024 characters/);
          return true;
        });
      }
      const invalid = (field: string) => (err: Error & { code?: number }) => {
        assert.equal(err.code, -32602, err.message);
        assert.match(err.message, new RegExp(`${field} must NOT have more than 1024 characters`));
        return true;
      };
      await assert.rejects(c.getPrompt({ name: 'mem__memory_context', arguments: { pattern: '*a'.repeat(600) } }), invalid('pattern'));
      await assert.rejects(c.getPrompt({ name: 'mem__memory_search', arguments: { query: 'q'.repeat(1025) } }), invalid('query'));
    } finally {
      await c.close();
      await gw.close();
    }
  });
});
