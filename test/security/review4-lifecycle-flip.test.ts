/**
 * Attack (review 4): one client makes the gateway decide, for every client, that a backend
 * offering both lifecycles speaks only 2026-07-28.
 *
 * Under `protocol: auto` a replica learns "stateful sessions are not offered" from the
 * first refused initialize. That initialize carries the client's own capabilities and
 * clientInfo (per_client sessions are transparent), which the gateway takes as any object.
 * A client sending capabilities the backend's SDK rejects (`sampling: "yes"`) gets a
 * JSON-RPC error for its initialize; the replica must not conclude from it that the
 * backend refuses initialize to everyone, which would bridge every later stateful
 * client onto the shared stateless connection (no session of its own, one process for all).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, rawSession, startGateway, textOf } from '../helpers/gateway.js';

const MODERN = fileURLToPath(new URL('../fixtures/stateless-server.js', import.meta.url));

describe('review4: a client cannot flip a dual-lifecycle backend to stateless-only for everyone', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    gw = await startGateway({ backends: { dual: { type: 'mcp', command: process.execPath, args: [MODERN, '--stdio'] } } });
  });
  after(async () => gw?.close());

  it('a stateful client after a malformed initialize still gets a backend session of its own', async () => {
    // The attacker: capabilities the backend's schema refuses.
    const evil = await rawSession(gw.url, '2025-11-25', { sampling: 'yes', elicitation: 42 });
    const r = await evil.post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'dual__whoami', arguments: {} } });
    await r.text();
    const backend = gw.gw.registry.backend('dual')!;
    assert.equal(backend.statelessOnly, false, 'one refused initialize does not make the backend stateless-only');

    // The victim: an ordinary SDK v1 client, which directly would get a stateful session.
    const victim = await connectClient(gw.url, { capabilities: { sampling: {} } });
    victim.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', content: { type: 'text', text: 'victim' }, model: 'm', stopReason: 'endTurn' }));
    try {
      const pid = Number(/pid=(\d+)/.exec(textOf(await victim.callTool({ name: 'dual__whoami', arguments: {} })))?.[1]);
      const catalogPid = backend.pids()[0];
      assert.notEqual(pid, catalogPid, 'the victim has a process (session) of its own, not the shared stateless connection');
    } finally {
      await victim.close();
    }
  });
});
