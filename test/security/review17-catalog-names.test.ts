/**
 * Attack: a backend lists a tool whose name is not text. The gateway kept every list item
 * that was an object, whatever its name; the views skip such items, but the metrics
 * observer decides whether a call's tool is a known one from the backend's catalog, and
 * built that set with String(name): `{"toString": 1}` threw there on every call to the
 * backend. Before observers were wrapped (src/observability/channels.ts observer()) that
 * throw was an uncaught exception that ended the gateway process on the first tools/call;
 * since, the observer missed the event: no call to that backend was counted in the
 * metrics any more (its failures hidden from whoever watches them). Now list items whose
 * name (a tool's or prompt's), URI or URI template is not a string are left out of the
 * catalog where the lists come in. Performed against a real `mcpeg gateway` process.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { answerOf, rawSession, spawnScriptGateway, type GatewayProcess } from '../helpers/gateway.js';

const EVIL = { toString: 1 };
const LISTS: Record<string, object> = {
  'tools/list': {
    tools: [
      { name: EVIL, inputSchema: { type: 'object' } },
      { name: 'ok', inputSchema: { type: 'object' } },
    ],
  },
  'prompts/list': { prompts: [{ name: EVIL }, { name: 'p' }] },
  'resources/list': {
    resources: [
      { uri: EVIL, name: 'x' },
      { uri: 'file:///a', name: 'a' },
    ],
  },
  'resources/templates/list': { resourceTemplates: [{ uriTemplate: EVIL, name: 'x' }] },
};

const BACKEND = `
import { createInterface } from 'node:readline';
const LISTS = ${JSON.stringify(LISTS)};
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize')
    send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {}, prompts: {}, resources: {} }, serverInfo: { name: 'lister', version: '1' } } });
  else if (LISTS[m.method]) send({ id: m.id, result: LISTS[m.method] });
  else if (m.method === 'tools/call') send({ id: m.id, result: { content: [{ type: 'text', text: 'ok' }] } });
  else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });
});
`;

describe('review 17: a backend lists items whose names are not text', { timeout: 60_000 }, () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let gateway: GatewayProcess | undefined;
  let url: string;

  before(async () => {
    const g = await spawnScriptGateway(BACKEND, 'mcpeg-review17-names-');
    gateway = g;
    ({ dir, proc, url } = g);
  });
  after(() => {
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('the named items are served, the call is answered and counted, and the gateway lives on', async () => {
    const s = await rawSession(url);
    const tools = await answerOf(await s.post({ jsonrpc: '2.0', id: 1, method: 'tools/list' }), 1);
    assert.deepEqual(
      (tools.result as { tools: Array<{ name: unknown }> }).tools.map((t) => t.name),
      ['b__ok'],
    );
    const prompts = await answerOf(await s.post({ jsonrpc: '2.0', id: 2, method: 'prompts/list' }), 2);
    assert.deepEqual(
      (prompts.result as { prompts: Array<{ name: unknown }> }).prompts.map((p) => p.name),
      ['b__p'],
    );
    const resources = await answerOf(await s.post({ jsonrpc: '2.0', id: 3, method: 'resources/list' }), 3);
    assert.deepEqual(
      (resources.result as { resources: Array<{ uri: unknown }> }).resources.map((r) => r.uri),
      ['file:///a'],
    );
    const call = await answerOf(await s.post({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'b__ok', arguments: {} } }), 4);
    assert.deepEqual(call.result, { content: [{ type: 'text', text: 'ok' }] });
    // Observers run as the answer goes out: give them their turn.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(proc!.exitCode, null, `the gateway exited: ${gateway!.stderr().slice(-2000)}`);
    const metrics = await (await fetch(new URL('/metrics', url))).text();
    assert.match(metrics, /^mcpeg_mcp_requests_total\{method="tools\/call",backend="b",tool="ok",outcome="ok"\} 1$/m, 'the call is counted');
  });
});
