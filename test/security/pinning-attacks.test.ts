/**
 * A backend attacking tool pinning (block mode): it changes only a tool's inputSchema,
 * only its annotations (readOnlyHint flipped), reorders JSON members (not a change: the
 * digest is over canonical JSON), serves a tool of the same name as another backend's
 * pinned one (pins are per backend), a huge definition (the lock file keeps its digest
 * and size, not the text), and a tool named "__proto__".
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { type AdminGateway, startAdminGateway } from '../helpers/admin.js';
import { connectClient, waitFor } from '../helpers/gateway.js';
import { greet, pinBackend, type ToolDef, writeState } from '../helpers/pins.js';

const HUGE = 'x'.repeat(1024 * 1024);
const proto: ToolDef = { name: '__proto__', description: 'prototype', inputSchema: { type: 'object' } };
const huge: ToolDef = { name: 'huge', description: HUGE, inputSchema: { type: 'object' } };

describe('pinning under attack (block)', () => {
  let g: AdminGateway;
  let client: Client;
  let stateA = '';
  let stateB = '';
  const lock = () => JSON.parse(readFileSync(join(g.dir, 'mcpeg.lock.json'), 'utf8'));
  const names = async () => (await client.listTools()).tools.map((t) => t.name).sort();
  const mismatched = async () =>
    ((await g.admin('GET', '/admin/pins')).body.mismatched as Array<{ backend: string; tool: string; status: string }>).map((m) => `${m.backend}/${m.tool}:${m.status}`).sort();
  /** Serves `tools` from backend a, and waits until the gateway has listed them (the raw catalog). */
  const serveA = async (tools: ToolDef[]) => {
    await client.callTool({ name: 'a__mutate', arguments: { tools } });
    await waitFor(() => JSON.stringify(g.gw.registry.backend('a')?.catalog.tools.slice(1)) === JSON.stringify(tools), 'backend a re-listed');
  };

  before(async () => {
    g = await startAdminGateway((dir) => {
      stateA = writeState(dir, [greet(), proto, huge], 'a.json');
      stateB = writeState(dir, [], 'b.json');
      return { pinning: { mode: 'block' }, backends: { a: pinBackend(stateA), b: pinBackend(stateB) } };
    });
    client = await connectClient(g.mcpUrl);
    await waitFor(() => {
      try {
        return lock().backends.a && lock().backends.b;
      } catch {
        return false;
      }
    }, 'both backends pinned');
  });
  after(async () => {
    await client?.close();
    await g?.close();
  });

  it('a huge definition is pinned by digest and size; the lock file stays small', () => {
    const entry = lock().backends.a.tools.huge;
    assert.match(entry.digest, /^sha256:/);
    assert.ok(entry.size > HUGE.length);
    assert.equal(entry.definition, undefined);
    assert.ok(statSync(join(g.dir, 'mcpeg.lock.json')).size < 64 * 1024);
  });

  it('a tool named __proto__ is pinned like any other', async () => {
    assert.ok(Object.hasOwn(lock().backends.a.tools, '__proto__'));
    assert.ok((await names()).includes('a____proto__'));
  });

  it('reordered JSON members are not a change', async () => {
    const reordered = {
      annotations: { readOnlyHint: true },
      inputSchema: { required: ['who'], properties: { who: { type: 'string' } }, type: 'object' },
      description: 'Greets someone by name',
      name: 'greet',
    };
    await serveA([reordered, { inputSchema: { type: 'object' }, description: 'prototype', name: '__proto__' }, huge]);
    assert.deepEqual(await mismatched(), []);
    assert.ok((await names()).includes('a__greet'));
  });

  it('only the inputSchema changed: blocked', async () => {
    await serveA([greet(undefined, { inputSchema: { type: 'object', properties: { who: { type: 'string' }, path: { type: 'string' } } } }), proto, huge]);
    assert.deepEqual(await mismatched(), ['a/greet:changed']);
    assert.ok(!(await names()).includes('a__greet'));
  });

  it('only the annotations changed (readOnlyHint flipped): blocked', async () => {
    await serveA([greet(undefined, { annotations: { readOnlyHint: false, destructiveHint: true } }), proto, huge]);
    assert.deepEqual(await mismatched(), ['a/greet:changed']);
    assert.ok(!(await names()).includes('a__greet'));
  });

  it('one character more in a huge description, and a changed __proto__: blocked', async () => {
    await serveA([greet(), { ...proto, description: 'prototype pollution' }, { ...huge, description: `${HUGE}y` }]);
    assert.deepEqual(await mismatched(), ['a/__proto__:changed', 'a/huge:changed']);
    const listed = await names();
    assert.ok(listed.includes('a__greet') && !listed.includes('a____proto__') && !listed.includes('a__huge'));
  });

  it("pins are per backend: another backend's tool of the same name is its own, and the same definition on the first backend is still a change", async () => {
    // Backend b (pinned serving nothing) adds greet: new on b, whatever a has pinned under that name.
    await client.callTool({ name: 'b__mutate', arguments: { tools: [greet('Greets, the other way')] } });
    await waitFor(async () => (await mismatched()).includes('b/greet:new'), 'b/greet noticed');
    assert.equal((await g.admin('POST', '/admin/pins/approve', { backend: 'b', tool: 'greet' })).status, 200);
    assert.ok((await names()).includes('b__greet'));
    // a serves b's approved definition: still a change for a.
    await serveA([greet('Greets, the other way'), proto, huge]);
    assert.ok((await mismatched()).includes('a/greet:changed'));
    assert.ok(!(await names()).includes('a__greet'));
    assert.ok((await names()).includes('b__greet'));
  });
});
