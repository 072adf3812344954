/**
 * Keys are client input: a key named like an Object.prototype member is an ordinary key
 * everywhere, including the dump resource, which builds one JSON object of every key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { connectClient, startGateway } from '../helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'mcpeg-sec-memkeys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('keys "__proto__", "constructor" and "toString" are stored, listed, retrieved and dumped as plain keys', async () => {
  const gw = await startGateway({ paths: { data: join(dir, 'data'), workspace: join(dir, 'ws') }, plugins: [{ name: 'memory' }] });
  const c = await connectClient(gw.url);
  try {
    const keys = ['__proto__', 'constructor', 'toString'];
    for (const k of keys) {
      const r = await c.callTool({ name: 'memory__memory_store', arguments: { key: k, value: { polluted: k } } });
      assert.equal(r.isError, undefined, k);
    }
    const list = await c.callTool({ name: 'memory__memory_list', arguments: {} });
    assert.deepEqual(
      (list.structuredContent as { keys: Array<{ key: string }> }).keys.map((i) => i.key),
      keys,
    );
    for (const k of keys) {
      const r = await c.callTool({ name: 'memory__memory_retrieve', arguments: { key: k } });
      assert.deepEqual((r.structuredContent as { value: unknown }).value, { polluted: k });
    }
    const dump = JSON.parse(((await c.readResource({ uri: 'mcpeg://memory/dump' })).contents[0] as { text: string }).text);
    assert.deepEqual(Object.keys(dump), keys);
    assert.deepEqual(dump, JSON.parse(JSON.stringify(Object.fromEntries(keys.map((k) => [k, { polluted: k }])))));
  } finally {
    await c.close();
    await gw.close();
  }
});
