/**
 * Review 3 of issue 16 item 4 (max_processes), as an attacker: beyond the ceiling,
 * clients that declare the same capabilities share a process, one client at a time when
 * they declare roots. But a server asks for roots once (after initialize, and when told
 * they changed) and keeps them as the session's state: a filesystem server makes them
 * the directories it may touch. The first client on a shared process gave its roots, and
 * every later client with the same capabilities worked within them: client B read
 * within client A's directories. A process of a client that declares roots now serves
 * that client only (it is taken back, not passed on, when another needs a slot).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { childPids } from '../helpers/children.js';
import { connectClient, startGateway } from '../helpers/gateway.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));

describe('review3: a shared process keeps no client’s roots for another', { timeout: 30_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  const clients: Client[] = [];
  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await gw?.close();
  });

  async function withRoots(name: string, uri: string): Promise<Client> {
    const c = await connectClient(`${gw!.base}/servers/lite/mcp`, { name, capabilities: { roots: { listChanged: true } } });
    c.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri, name }] }));
    clients.push(c);
    return c;
  }
  const rootsOf = async (c: Client) => (await c.callTool({ name: 'roots', arguments: {} })).structuredContent as { roots: string[]; pid: number };

  it('client B never works within the roots client A gave a process', async () => {
    gw = await startGateway({ backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], max_processes: 3 } } });
    const filler = await connectClient(`${gw.base}/servers/lite/mcp`, { name: 'filler' });
    clients.push(filler);
    // Two fillers take the two client slots as their own: A and B share beyond them.
    const filler2 = await connectClient(`${gw.base}/servers/lite/mcp`, { name: 'filler2' });
    clients.push(filler2);
    await filler.callTool({ name: 'whoami', arguments: {} });
    await filler2.callTool({ name: 'whoami', arguments: {} });

    const a = await withRoots('a', 'file:///home/a');
    const b = await withRoots('b', 'file:///home/b');
    const fromA = await rootsOf(a);
    assert.deepEqual(fromA.roots, ['file:///home/a']);
    const fromB = await rootsOf(b);
    assert.deepEqual(fromB.roots, ['file:///home/b'], `B's call ran on process ${fromB.pid} (A's was ${fromA.pid}) with A's roots`);
    // And back: A's next call is within its own roots again.
    assert.deepEqual((await rootsOf(a)).roots, ['file:///home/a']);
    assert.ok(childPids(process.pid).length <= 3, 'never beyond max_processes');
  });
});
