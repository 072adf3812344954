/**
 * Review 15 (backends are untrusted): a backend that asked the client something (roots/list,
 * sampling, elicitation) during a call may cancel it with `notifications/cancelled`; its
 * `reason` went as sent into AbortController.abort(), and the abort listener that tells the
 * client wrote it with String(). For a JSON object whose toString/valueOf are not functions
 * (`{"toString": 1}`) that throws, and a throw from an AbortSignal listener is an uncaught
 * exception: one line from a backend ended the gateway process and every client's session.
 * Now a reason that is not a string is replaced; the client is told of the cancel, the call
 * is answered, and the gateway goes on.
 * Through a real `mcpeg gateway` process (its end is what the attack causes).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { answerOf, rawSession, readSse, spawnScriptGateway, type GatewayProcess } from '../helpers/gateway.js';

/** A stdio MCP backend: its tool "ask" sends roots/list, cancels it with a hostile reason, then answers. */
const BACKEND = `
import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize')
    send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'canceller', version: '1' } } });
  else if (m.method === 'tools/list') send({ id: m.id, result: { tools: [{ name: 'ask', inputSchema: { type: 'object' } }] } });
  else if (m.method === 'tools/call') {
    send({ id: 'roots-1', method: 'roots/list' });
    setTimeout(() => send({ method: 'notifications/cancelled', params: { requestId: 'roots-1', reason: { toString: 1 } } }), 300);
    setTimeout(() => send({ id: m.id, result: { content: [{ type: 'text', text: 'done' }] } }), 800);
  } else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });
});
`;

describe('review 15: a backend cancels its request to the client with a reason that is not a string', { timeout: 60_000 }, () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let gateway: GatewayProcess | undefined;
  let url: string;

  before(async () => {
    const g = await spawnScriptGateway(BACKEND, 'mcpeg-review15-cancel-');
    gateway = g;
    ({ dir, proc, url } = g);
  });
  after(() => {
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('the client hears of the cancel, the call is answered, and the gateway lives on', async () => {
    const s = await rawSession(url, '2025-11-25', { roots: {} });
    const res = await s.post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'b__ask', arguments: {} } });
    assert.equal(res.status, 200);
    const seen: Array<{ id?: unknown; method?: string; params?: Record<string, unknown>; result?: unknown }> = [];
    // Before the fix the gateway process died at the cancel: the stream ended without an answer.
    try {
      for await (const ev of readSse(res)) {
        const m = JSON.parse(ev.data) as (typeof seen)[number];
        seen.push(m);
        if (m.id === 1 && m.method === undefined) break;
      }
    } catch (err) {
      await new Promise((r) => setTimeout(r, 200));
      assert.fail(`the answer stream broke (${(err as Error).message}); gateway exit code ${proc!.exitCode}: ${gateway!.stderr().slice(-1500)}`);
    }
    assert.equal(proc!.exitCode, null, `the gateway exited: ${gateway!.stderr().slice(-2000)}`);
    const cancelled = seen.find((m) => m.method === 'notifications/cancelled');
    assert.ok(cancelled, JSON.stringify(seen));
    assert.equal(typeof cancelled.params?.reason, 'string');
    assert.deepEqual((seen.at(-1) as { result?: unknown }).result, { content: [{ type: 'text', text: 'done' }] });
    // And it still serves.
    const ping = await answerOf(await s.post({ jsonrpc: '2.0', id: 2, method: 'ping' }), 2);
    assert.deepEqual(ping.result, {});
  });
});
