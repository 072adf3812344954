/**
 * Review 7 (authorization, attacker's view): a client subscribes to a resource while the
 * rules allow it; a reload then denies the resource to its principal. Before the fix the
 * existing subscription kept delivering notifications/resources/updated for the denied URI
 * (and a reopened backend session subscribed to it again): the session kept learning of a
 * resource it may no longer read. Both backend session modes (a backend session per
 * client, one shared) are attacked, over the real endpoint with the SDK client; updates are
 * sent in order on one stream, so the public update after the secret one proves the secret
 * one was dropped, not late.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { validateConfig } from '../../src/config/load.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

const FILES_SERVER = fileURLToPath(new URL('../fixtures/files-server.js', import.meta.url));
const LOW = 'low-key-0123456789abcdef';
const SECRET = 'file:///secret/key.txt';
const PUBLIC = 'file:///public/readme.txt';

function config(mode: 'per_client' | 'shared', deny: boolean): Record<string, unknown> {
  return {
    auth: { api_keys: [{ name: 'low', key: LOW, groups: ['low'] }] },
    authorization: {
      default: 'allow',
      rules: deny ? [{ name: 'no-secret', principals: { groups: ['low'] }, deny: { resources: ['file:///secret/**'] } }] : [],
    },
    backends: { files: { type: 'mcp', command: process.execPath, args: [FILES_SERVER], session_mode: mode } },
  };
}

describe('review7 authz: a subscription a reload denies hears no more updates', () => {
  const closers: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  });

  for (const mode of ['per_client', 'shared'] as const) {
    it(`session_mode ${mode}`, async () => {
      const gw = await startGateway(config(mode, false));
      closers.push(() => gw.close());
      const c = new Client({ name: 'review7', version: '1' }, { capabilities: {} });
      await c.connect(new StreamableHTTPClientTransport(new URL(`${gw.base}/mcp`), { requestInit: { headers: { 'x-api-key': LOW } } }));
      closers.push(() => c.close());
      const heard: string[] = [];
      c.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void heard.push(n.params.uri));

      await c.subscribeResource({ uri: SECRET });
      await c.subscribeResource({ uri: PUBLIC });
      await c.callTool({ name: 'files__touch', arguments: { uri: SECRET } });
      await c.callTool({ name: 'files__touch', arguments: { uri: PUBLIC } });
      await waitFor(() => heard.includes(PUBLIC), 'the public update');
      assert.deepEqual(heard, [SECRET, PUBLIC], 'allowed: both updates arrive');

      await gw.gw.reload(validateConfig({ ...config(mode, true), server: gw.gw.config.server }, 'reload'));
      await assert.rejects(c.readResource({ uri: SECRET }), /no-secret/, 'the new rule is in force');
      heard.length = 0;
      await c.callTool({ name: 'files__touch', arguments: { uri: SECRET } });
      await c.callTool({ name: 'files__touch', arguments: { uri: PUBLIC } });
      await waitFor(() => heard.includes(PUBLIC), 'the public update after the reload');
      assert.deepEqual(heard, [PUBLIC], 'the denied resource is heard of no more');
    });
  }
});
