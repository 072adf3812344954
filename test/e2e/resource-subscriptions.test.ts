/**
 * resources/subscribe of a stateful (2025-11-25) client across lifecycles. On a backend
 * that offers both, the client has a stateful session of its own and the subscription is
 * relayed on it. On a backend that speaks only 2026-07-28, which has no
 * resources/subscribe, the gateway uses the revision's own means: the URI in
 * `resourceSubscriptions` of a subscriptions/listen stream it holds, and the updates
 * reach the subscribed client; only when the backend does not honour it is the client
 * answered -32601.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, waitFor } from '../helpers/gateway.js';

const MODERN = fileURLToPath(new URL('../fixtures/stateless-server.js', import.meta.url));
const WATCHED = 'test://watched-resource';

describe('resources/subscribe of a stateful client', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    gw = await startGateway({
      backends: {
        dual: { type: 'mcp', command: process.execPath, args: [MODERN, '--stdio'] },
        only: { type: 'mcp', command: process.execPath, args: [MODERN, '--stdio', '--modern-only'] },
        nosub: { type: 'mcp', command: process.execPath, args: [MODERN, '--stdio', '--modern-only', '--no-subscribe'] },
        shared: { type: 'mcp', command: process.execPath, args: [MODERN, '--stdio'], session_mode: 'shared' },
      },
    });
  });
  after(async () => gw?.close());

  async function subscriber(backend: string): Promise<{ client: Client; updates: string[]; trigger(): Promise<void> }> {
    const client = await connectClient(`${gw.base}/servers/${backend}/mcp`);
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    return { client, updates, trigger: async () => void (await client.callTool({ name: 'test_trigger_resource_update', arguments: {} })) };
  }

  for (const backend of ['dual', 'only']) {
    it(`${backend}: the client hears of updates while subscribed, and not after unsubscribing`, async () => {
      const { client, updates, trigger } = await subscriber(backend);
      // A second client that never subscribed hears nothing.
      const other = await subscriber(backend);
      try {
        assert.deepEqual(await client.subscribeResource({ uri: WATCHED }), {});
        await trigger();
        await waitFor(() => updates.length > 0, 'notifications/resources/updated', 5000);
        assert.deepEqual(updates, [WATCHED]);
        assert.deepEqual(await client.unsubscribeResource({ uri: WATCHED }), {});
        await trigger();
        await new Promise((r) => setTimeout(r, 500));
        assert.deepEqual(updates, [WATCHED]);
        assert.deepEqual(other.updates, []);
      } finally {
        await client.close();
        await other.client.close();
      }
    });
  }

  it('shared backend session: one client unsubscribing leaves the others subscribed; the last one ends it', async () => {
    const a = await subscriber('shared');
    const b = await subscriber('shared');
    try {
      assert.deepEqual(await a.client.subscribeResource({ uri: WATCHED }), {});
      assert.deepEqual(await b.client.subscribeResource({ uri: WATCHED }), {});
      await a.trigger();
      await waitFor(() => a.updates.length === 1 && b.updates.length === 1, 'both hear the update', 5000);
      // A leaves: the one subscription the backend holds for both stays, B keeps hearing.
      assert.deepEqual(await a.client.unsubscribeResource({ uri: WATCHED }), {});
      await b.trigger();
      await waitFor(() => b.updates.length === 2, 'B still hears updates after A unsubscribed', 5000);
      assert.equal(a.updates.length, 1, 'A hears no more');
      // B leaves too: the backend is told, and nobody hears the next one.
      assert.deepEqual(await b.client.unsubscribeResource({ uri: WATCHED }), {});
      await b.trigger();
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual([a.updates.length, b.updates.length], [1, 2]);
    } finally {
      await a.client.close();
      await b.client.close();
    }
  });

  it('answers -32601 when a 2026-07-28-only backend does not honour resourceSubscriptions', async () => {
    const { client } = await subscriber('nosub');
    try {
      await assert.rejects(client.subscribeResource({ uri: WATCHED }), (err: Error & { code?: number }) => {
        assert.equal(err.code, -32601);
        assert.match(err.message, /did not honour test:\/\/watched-resource in resourceSubscriptions/);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});
