/**
 * Attack: a backend answers with error codes and messages that are not text. The gateway
 * reports every answered request to its observers (metrics, request log) through a
 * diagnostics_channel; it took the code from the error's `data.mcpegCode` (or a tool
 * error's `_meta["mcpeg/error"].code`) as it came, and the metrics subscriber used it as a
 * property key. `{"toString": 1}` there made the subscriber throw, and a subscriber's throw
 * is an uncaught exception: one tools/call answer ended the gateway process (exit code 1)
 * and every client's session. Now only strings and numbers reach the observers; the client
 * still gets the backend's answer as it was written. Performed against a real `mcpeg gateway`.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { answerOf, rawSession, spawnScriptGateway, type GatewayProcess } from '../helpers/gateway.js';

const EVIL = { toString: 1 };
/** What each tool answers (the error or the result), as the backend writes it. */
const ANSWERS: Record<string, object> = {
  'data-code': { error: { code: -32000, message: 'x', data: { mcpegCode: EVIL } } },
  'tool-error-code': { result: { content: [], isError: true, _meta: { 'mcpeg/error': { code: EVIL } } } },
  'error-code': { error: { code: EVIL, message: 'x' } },
  'error-message': { error: { code: -32000, message: EVIL } },
};

const BACKEND = `
import { createInterface } from 'node:readline';
const ANSWERS = ${JSON.stringify(ANSWERS)};
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize')
    send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'coder', version: '1' } } });
  else if (m.method === 'tools/list') send({ id: m.id, result: { tools: Object.keys(ANSWERS).map((name) => ({ name, inputSchema: { type: 'object' } })) } });
  else if (m.method === 'tools/call') send({ id: m.id, ...ANSWERS[m.params.name] });
  else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });
});
`;

describe('review 16: a backend answers with error codes that are not text', { timeout: 60_000 }, () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let gateway: GatewayProcess | undefined;
  let url: string;

  before(async () => {
    const g = await spawnScriptGateway(BACKEND, 'mcpeg-review16-code-');
    gateway = g;
    ({ dir, proc, url } = g);
  });
  after(() => {
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('each answer reaches the client, the gateway lives on, and the metrics count them', async () => {
    const s = await rawSession(url);
    let id = 0;
    for (const name of Object.keys(ANSWERS)) {
      id++;
      let answer: Awaited<ReturnType<typeof answerOf>>;
      try {
        answer = await answerOf(await s.post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: `b__${name}`, arguments: {} } }), id);
      } catch (err) {
        await new Promise((r) => setTimeout(r, 300));
        assert.fail(`${name}: no answer (${(err as Error).message}); gateway exit code ${proc!.exitCode}: ${gateway!.stderr().slice(-1500)}`);
      }
      // Observers run as the answer goes out: give a throw there its turn to end the process.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(proc!.exitCode, null, `${name}: the gateway exited: ${gateway!.stderr().slice(-2000)}`);
      assert.ok(answer.result !== undefined || answer.error !== undefined, `${name}: ${JSON.stringify(answer)}`);
    }
    const ping = await answerOf(await s.post({ jsonrpc: '2.0', id: 99, method: 'ping' }), 99);
    assert.deepEqual(ping.result, {});
    const metrics = await (await fetch(new URL('/metrics', url))).text();
    const calls = [...metrics.matchAll(/^mcpeg_mcp_requests_total\{method="tools\/call",backend="b"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(calls, Object.keys(ANSWERS).length, 'every answered call counted');
  });
});
