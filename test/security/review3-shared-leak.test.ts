/**
 * Review 3 of issue 16 item 4 (max_processes), as an attacker: beyond the ceiling, clients
 * that declare sampling (elicitation, roots) take turns on a shared process, and what the
 * backend asks goes to the client whose call runs on it now. A call the client cancelled
 * (or that timed out) gave the process back at once, though the backend, which need not
 * stop work on notifications/cancelled, was still working for that client: its later
 * sampling request, with the first client's prompt, reached the next client on the
 * process, and that client's answer went into the first client's work. A process with a
 * call the backend never answered now serves no other client: it is closed once idle.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, startGateway } from '../helpers/gateway.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('review3: a shared process carries nothing of one client to the next', { timeout: 30_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  const clients: Client[] = [];
  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await gw?.close();
  });

  async function sampler(name: string, seen: string[]): Promise<Client> {
    const c = await connectClient(`${gw!.base}/servers/lite/mcp`, { name, capabilities: { sampling: {} } });
    c.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      const content = req.params.messages[0]?.content as { text?: string };
      seen.push(String(content.text));
      return { model: 'm', role: 'assistant', content: { type: 'text', text: `answered by ${name}` } };
    });
    clients.push(c);
    return c;
  }

  it("a cancelled call's late sampling request never reaches the next client on the process", async () => {
    // One process for clients: every client beyond the first shares.
    gw = await startGateway({ backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], max_processes: 2 } } });
    const filler = await connectClient(`${gw.base}/servers/lite/mcp`, { name: 'filler' });
    clients.push(filler);
    await filler.callTool({ name: 'whoami', arguments: {} }); // takes the slot as its own

    const seenByA: string[] = [];
    const seenByB: string[] = [];
    const a = await sampler('a', seenByA);
    const b = await sampler('b', seenByB);
    // A shares a process (the filler's is taken back for it), then cancels a call the backend goes on with.
    const aPid = ((await a.callTool({ name: 'whoami', arguments: {} })).structuredContent as { pid: number }).pid;
    const abort = new AbortController();
    const cancelled = a.callTool({ name: 'ask_later', arguments: { ms: 700, text: 'the secret of a' } }, undefined, { signal: abort.signal }).catch((e: Error) => e);
    await sleep(150);
    abort.abort('changed my mind');
    assert.ok((await cancelled) instanceof Error);
    await sleep(150);
    // B, with the same capabilities, calls while the backend still works for A.
    const r = (await b.callTool({ name: 'sleep', arguments: { ms: 1500 } })).structuredContent as { pid: number };
    assert.deepEqual(seenByB, [], `B was asked for A's call (A's process ${aPid}, B's ${r.pid})`);
    // B is still served, and what it asks for itself reaches it.
    const own = (await b.callTool({ name: 'ask', arguments: {} })).structuredContent as { said: string };
    assert.equal(own.said, 'answered by b');
    assert.deepEqual(seenByB, ['who are you?']);
  });
});
