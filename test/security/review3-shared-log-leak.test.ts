/**
 * Review 3 of issue 16 item 4 (max_processes), as an attacker: beyond the ceiling,
 * clients without sampling, elicitation and roots share a process, any number of calls
 * at once, and a log message the backend sends goes to the client whose call is the only
 * one in flight on it. A call its client cancelled (or that timed out) left the process
 * at once, though the backend, which need not stop on notifications/cancelled, went on
 * with it: its log lines, about the first client's work, reached the next client with the
 * only call on the process. Log lines of a shared process on which a call ended unanswered
 * now go to the gateway's log only.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, startGateway } from '../helpers/gateway.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('review3: a shared process sends one client’s log lines to no other client', { timeout: 30_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  const clients: Client[] = [];
  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await gw?.close();
  });

  async function logged(name: string, lines: string[]): Promise<Client> {
    const c = await connectClient(`${gw!.base}/servers/lite/mcp`, { name });
    c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void lines.push(String(n.params.data)));
    clients.push(c);
    return c;
  }

  it("a cancelled call's later log line never reaches the next client on the process", async () => {
    gw = await startGateway({ backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], max_processes: 2 } } });
    const a: string[] = [];
    const b: string[] = [];
    const filler = await logged('filler', []);
    await filler.callTool({ name: 'whoami', arguments: {} }); // takes the one slot as its own
    const ca = await logged('a', a);
    const cb = await logged('b', b);
    // A shares a process (the filler's is taken back for it); a log line of its own call reaches it.
    await ca.callTool({ name: 'log_later', arguments: { ms: 10, text: 'a: own call' } });
    assert.deepEqual(a, ['a: own call']);
    // A cancels a call the backend goes on with.
    const abort = new AbortController();
    const cancelled = ca.callTool({ name: 'log_later', arguments: { ms: 700, text: 'a: reading /home/a/secrets' } }, undefined, { signal: abort.signal }).catch((e: Error) => e);
    await sleep(150);
    abort.abort('changed my mind');
    assert.ok((await cancelled) instanceof Error);
    await sleep(100);
    // B, with the same capabilities, has the only call on the process when the line comes.
    await cb.callTool({ name: 'sleep', arguments: { ms: 1200 } });
    assert.deepEqual(b, [], 'B got a log line of A’s call');
  });
});
