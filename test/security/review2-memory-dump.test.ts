/**
 * Review 2, memory amplification: `mcpeg://memory/dump` indented every stored value
 * (JSON.stringify(…, null, 2)), which costs a value's nesting depth in spaces on each of its
 * lines. A client storing values of nested arrays (`[[[…]]]`, 2000 deep: 4 KB each) made
 * one dump read build 8 MB per value — sixty of them, a 480 MB string and a minute on the
 * event loop. The dump must stay about the size of what is stored, and quick.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r2-dump-')));

describe('review2: the memory dump is not an amplifier', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;

  before(async () => {
    gw = await startGateway({ paths: { data: join(dir, 'data'), workspace: join(dir, 'ws') }, plugins: [{ name: 'memory' }] });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deeply nested values dump at about their stored size', async () => {
    const depth = 1500;
    const value = JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown;
    const keys = 30;
    for (let i = 0; i < keys; i++) {
      const r = await client.callTool({ name: 'memory__memory_store', arguments: { key: `deep${i}`, value } });
      assert.equal(r.isError, undefined, textOf(r));
    }
    const stored = keys * 2 * depth;
    const t = performance.now();
    const text = ((await client.readResource({ uri: 'mcpeg://memory/dump' }, { timeout: 120_000 })).contents[0] as { text: string }).text;
    const ms = performance.now() - t;
    assert.ok(text.length < 2 * stored, `a dump of ${stored} stored characters is ${text.length} characters`);
    assert.ok(ms < 3000, `the dump took ${Math.round(ms)} ms`);
    const dump = JSON.parse(text) as Record<string, unknown>;
    assert.equal(Object.keys(dump).length, keys);
    assert.equal(JSON.stringify(dump.deep0), JSON.stringify(value));
  });
});
