/**
 * Review 12: a client's call whose params are nested too deep to encode for the backend
 * (300,000 nested arrays: JSON.parse reads them, JSON.stringify overflows the stack). The
 * failure was taken for the backend's:
 * - on a stdio backend, the transport threw before the request was on its way, after the
 *   connection had counted it in flight: the entry stayed until the call's timeout, so the
 *   process looked busy and, at max_processes, another client's call waited that long
 *   for one (15 s here);
 * - on a Streamable HTTP backend, it became MCPEG_ERR_BACKEND_UNAVAILABLE: the client's
 *   backend session was dropped, the replica reported failing, and a dozen such calls
 *   opened the circuit breaker for every client.
 * Now such a call is answered -32602 (the client's params), settled at once, and counts
 * for nothing against the backend.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectClient, rawSession, ROOT, startEverythingHttp, startGateway, textOf } from '../helpers/gateway.js';

const FILES = join(ROOT, 'dist/test/fixtures/files-server.js');
const deep = `${'['.repeat(300_000)}${']'.repeat(300_000)}`;

/** One tools/call with deep arguments on a raw session: the JSON-RPC error it gets. */
async function deepCall(url: string, s: Awaited<ReturnType<typeof rawSession>>, tool: string, id: number): Promise<{ code: number; message: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: s.headers,
    body: `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${tool}","arguments":{"x":${deep}}}}`,
  });
  const body = (await res.json()) as { id?: unknown; error?: { code: number; message: string } };
  assert.equal(body.id, id);
  assert.ok(body.error, 'an error answer');
  return body.error;
}

describe('review 12: params too deep to encode for the backend', () => {
  describe('on a stdio backend at max_processes', () => {
    let gw: Awaited<ReturnType<typeof startGateway>>;
    before(async () => {
      gw = await startGateway({ backends: { files: { type: 'mcp', command: process.execPath, args: [FILES], max_processes: 2, timeout: '15s' } } });
    });
    after(async () => gw?.close());

    it('answers -32602 at once and leaves no process looking busy', async () => {
      // With sampling declared, a client's process serves it alone (max_processes 2: the catalog's and one more).
      const attacker = await rawSession(gw.url, '2025-06-18', { sampling: {} });
      const err = await deepCall(gw.url, attacker, 'files__subscribed', 1);
      assert.equal(err.code, -32602, err.message);
      assert.match(err.message, /nested too deep|too large/);
      const victim = await connectClient(gw.url, { capabilities: { sampling: {} } });
      try {
        const t0 = Date.now();
        await victim.callTool({ name: 'files__subscribed', arguments: {} });
        assert.ok(Date.now() - t0 < 3000, `the other client's call waited ${Date.now() - t0} ms for a process`);
      } finally {
        await victim.close();
      }
    });
  });

  describe('on a Streamable HTTP backend', () => {
    let everything: Awaited<ReturnType<typeof startEverythingHttp>>;
    let gw: Awaited<ReturnType<typeof startGateway>>;
    before(async () => {
      everything = await startEverythingHttp();
      gw = await startGateway({ backends: { ev: { type: 'mcp', url: everything.url } } });
    });
    after(async () => {
      await gw?.close();
      await everything?.stop();
    });

    it('answers -32602, and twenty such calls neither open the breaker nor drop anyone', async () => {
      const attacker = await rawSession(gw.url, '2025-06-18');
      for (let i = 1; i <= 20; i++) {
        const err = await deepCall(gw.url, attacker, 'ev__echo', i);
        assert.equal(err.code, -32602, `call ${i}: ${err.message}`);
      }
      const b = gw.gw.registry.backend('ev')!;
      assert.ok(
        b.replicas.every((r) => r.breaker?.state !== 'open'),
        'the breaker stayed closed',
      );
      // Another client, and the attacker's own session, are served as before.
      const victim = await connectClient(gw.url);
      try {
        assert.equal(textOf(await victim.callTool({ name: 'ev__echo', arguments: { message: 'still here' } })), 'Echo: still here');
      } finally {
        await victim.close();
      }
      const ok = await attacker.post({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'ev__echo', arguments: { message: 'me too' } } });
      assert.match(JSON.stringify(await ok.json()), /Echo: me too/);
    });
  });
});
