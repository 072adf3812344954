/**
 * Log lines of a stateless (2026-07-28) HTTP backend reach the client whose call caused
 * them, and no other. Every call to such a backend is its own POST on one shared
 * connection; a log line comes in that POST's answer stream, so it belongs to that call.
 * The gateway used to give a line to "the only call in flight": with two clients' calls
 * in flight at once the lines went to neither, and a line written for a call that had
 * ended could reach whichever call was running then.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const MODERN = fileURLToPath(new URL('../fixtures/stateless-server.js', import.meta.url));

async function serveOverHttp(args: string[]): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [MODERN, '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the fixture did not start')), 15_000);
    proc.stdout!.on('data', (d: Buffer) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return { url: `http://127.0.0.1:${port}/mcp`, proc };
}

describe('log lines of a stateless HTTP backend', () => {
  let backend: { url: string; proc: ChildProcess };
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    backend = await serveOverHttp(['--legacy', 'reject']);
    gw = await startGateway({ backends: { only: { type: 'mcp', url: backend.url } } });
  });
  after(async () => {
    await gw?.close();
    backend?.proc.kill();
  });

  it('go to the client whose call wrote them, with several clients calling at once', async () => {
    const clients = await Promise.all([0, 1, 2].map(() => connectClient(`${gw.base}/servers/only/mcp`)));
    try {
      const heard = clients.map(() => [] as unknown[]);
      clients.forEach((c, i) => c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void heard[i].push(n.params.data)));
      await Promise.all(clients.map((c) => c.setLoggingLevel('info')));
      for (let round = 0; round < 3; round++) {
        const results = await Promise.all(clients.map((c) => c.callTool({ name: 'test_tool_with_logging', arguments: {} })));
        for (const r of results) assert.equal(textOf(r), 'Tool with logging executed successfully');
      }
      // Each call logs three lines in its own answer stream: each client hears its own nine, in order, and nothing else.
      const expected = Array.from({ length: 3 }, () => ['Tool execution started', 'Tool processing data', 'Tool execution completed']).flat();
      for (const h of heard) assert.deepEqual(h, expected);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});
