/**
 * Review 8 (per-user upstream credentials), attacker with an admin key. Only the config
 * file could name a token endpoint, but the rest of a backend's `credentials` was open to
 * the admin API, and each of these sends callers' credentials, or the gateway's own,
 * where the file did not:
 *
 * - `audience` (or `resource`, `scope`, `client_id`…) of a token exchange changed: every
 *   caller's token for another backend (say, payroll) is exchanged and sent to this one;
 * - the backend's URL changed: the exchanged tokens go to another host (the client secret
 *   no longer protects them: it goes to the token endpoint, which stayed);
 * - `default: deny` → `static`, or `credentials` removed: principals the file gave no
 *   credential call the backend with the gateway's static one.
 *
 * Now privileged (admin/privileged.ts): only the config file may change them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type AdminGateway, startAdminGateway } from '../helpers/admin.js';
import { startMcpRecorder } from '../helpers/mcp-recorder.js';

const ALICE_KEY = 'alice-key-0123456789abcdef';
const BOB_KEY = 'bob-key-0123456789abcdefgh';
const STATIC = 'Bearer gateway-static-secret';

describe('review8-exchange: the admin API cannot retarget per-user credentials', () => {
  let g: AdminGateway;
  let mcp: Awaited<ReturnType<typeof startMcpRecorder>>;
  let other: Awaited<ReturnType<typeof startMcpRecorder>>;
  let bob: Client;
  const config = async () => (await g.admin('GET', '/admin/config')).body.config as Record<string, any>;
  const forbidden = (r: { status: number; body: any }, path: RegExp) => {
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'MCPEG_ERR_ADMIN_FORBIDDEN');
    assert.match(r.body.error.message, path);
  };

  before(async () => {
    mcp = await startMcpRecorder();
    other = await startMcpRecorder();
    g = await startAdminGateway({
      auth: {
        api_keys: [
          { name: 'alice', key: ALICE_KEY },
          { name: 'bob', key: BOB_KEY },
        ],
      },
      backends: {
        keyed: {
          type: 'mcp',
          url: mcp.mcpUrl,
          headers: { Authorization: STATIC },
          credentials: { type: 'per_principal', tokens: { 'key:alice': 'alice-upstream-secret' }, default: 'deny' },
        },
        exchanged: {
          type: 'mcp',
          url: mcp.mcpUrl,
          credentials: {
            type: 'token_exchange',
            token_endpoint: 'http://127.0.0.1:9/token',
            // A public client (RFC 8693 allows it): no config secret whose redaction would pin the URL.
            client_id: 'gw',
            audience: 'https://wiki.example',
          },
        },
      },
    });
    bob = new Client({ name: 'bob', version: '1' });
    await bob.connect(new StreamableHTTPClientTransport(new URL(g.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${BOB_KEY}` } } }));
  });
  after(async () => {
    await bob?.close();
    await g?.close();
    await mcp?.close();
    await other?.close();
  });

  it("a token exchange's audience, scope or URL stays the file's", async () => {
    const before = g.gw.config;
    const aud = await config();
    aud.backends.exchanged.credentials.audience = 'https://payroll.example';
    forbidden(await g.admin('PUT', '/admin/config', aud), /backends\.exchanged\.credentials/);
    const scope = await config();
    scope.backends.exchanged.credentials.scope = 'payroll:write';
    forbidden(await g.admin('PUT', '/admin/config', scope), /backends\.exchanged\.credentials/);
    const gone = await config();
    delete gone.backends.exchanged.credentials;
    forbidden(await g.admin('PUT', '/admin/config', gone), /backends\.exchanged\.credentials/);
    const moved = await config();
    moved.backends.exchanged.url = other.mcpUrl;
    forbidden(await g.admin('PUT', '/admin/config', moved), /backends\.exchanged/);
    assert.equal(g.gw.config, before, 'nothing changed');
  });

  it("a principal the file gave no credential does not get the gateway's static one", async () => {
    const refused = async () => {
      const r = await bob.callTool({ name: 'keyed__whoami', arguments: {} }).catch((e: Error) => e);
      assert.ok(r instanceof Error || r.isError, `bob's call was refused: ${JSON.stringify(r)}`);
    };
    await refused();
    const loose = await config();
    loose.backends.keyed.credentials.default = 'static';
    forbidden(await g.admin('PUT', '/admin/config', loose), /backends\.keyed\.credentials/);
    const gone = await config();
    delete gone.backends.keyed.credentials;
    forbidden(await g.admin('PUT', '/admin/config', gone), /backends\.keyed\.credentials/);
    await refused();
    const calls = mcp.all('/mcp').filter((r) => r.body.includes('"tools/call"'));
    assert.deepEqual(calls, [], 'no call reached the backend');
  });
});
