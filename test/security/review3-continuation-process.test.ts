/**
 * Review 3 of issue 16 item 4 (max_processes), as an attacker: a 2026-07-28 client's
 * retry that answers `input_required` resumes a call that already runs on its process
 * (protocol/continuation.ts). It asked the process pool for a process of its own all the
 * same, so at the ceiling the retry waited for a process the paused call itself held:
 * the call could never finish, and the retry failed with MCPEG_ERR_PROCESS_LIMIT after
 * the backend's timeout. Below the ceiling each round started a child for nothing.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Client as V2Client, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { childPids } from '../helpers/children.js';
import { startGateway } from '../helpers/gateway.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));

describe('review3: a retry that answers input_required needs no process of its own', { timeout: 30_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  after(async () => gw?.close());

  it('a 2026-07-28 client answers a stdio backend’s sampling request at max_processes: the call completes', async () => {
    gw = await startGateway({
      backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], max_processes: 2, timeout: '4s' } },
    });
    const client = new V2Client({ name: 'stateless', version: '1.0.0' }, { capabilities: { sampling: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } });
    let asked = 0;
    client.setRequestHandler('sampling/createMessage', async () => {
      asked++;
      return { role: 'assistant', content: { type: 'text', text: 'it is me' }, model: 'm', stopReason: 'endTurn' };
    });
    await client.connect(new V2Http(new URL(`${gw.base}/servers/lite/mcp`)));
    try {
      const started = Date.now();
      const r = await client.callTool({ name: 'ask', arguments: {} });
      const ms = Date.now() - started;
      assert.equal(r.isError ?? false, false, JSON.stringify(r));
      assert.equal((r.structuredContent as { said?: string }).said, 'it is me');
      assert.equal(asked, 1);
      assert.ok(ms < 3000, `the call took ${ms} ms: its retry waited for a process`);
      // One client process at most (the replica's own beside it): the retry started none.
      assert.ok(childPids(process.pid).length <= 2);
    } finally {
      await client.close();
    }
  });
});
