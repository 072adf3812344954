/**
 * Attack: the "not up yet" refusal (-32010) of a backend that has never been up answers any
 * name under its prefix, so it could tell a caller the authorization rules keep away from
 * that backend its name and state. The rules are decided first, as for a withheld tool: a
 * principal not allowed the backend gets MCPEG_ERR_FORBIDDEN, which names neither; one
 * allowed gets -32010; a name under no backend's prefix stays an unknown tool.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { ERRORS } from '../../src/errors/catalog.js';
import { everythingStdio, freePort, startGateway } from '../helpers/gateway.js';

const OPS = 'ops-key-0123456789abcdef';
const DEV = 'dev-key-0123456789abcdef';

describe('a never-up backend’s "not up yet" refusal is decided by authorization first', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  const clients: Client[] = [];

  async function connect(key: string): Promise<Client> {
    const c = new Client({ name: 'not-up-authz', version: '1' }, { capabilities: {} });
    await c.connect(new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers: { 'x-api-key': key } } }));
    clients.push(c);
    return c;
  }
  const errorOf = (p: Promise<unknown>) =>
    p.then(
      () => assert.fail('expected an error'),
      (e: unknown) => (assert.ok(e instanceof McpError, String(e)), e),
    );

  before(async () => {
    // Nothing listens there: the backend's first start fails, and it stays not up for the test.
    const port = await freePort();
    gw = await startGateway({
      auth: {
        api_keys: [
          { name: 'ops', key: OPS, groups: ['ops'] },
          { name: 'dev', key: DEV, groups: ['dev'] },
        ],
      },
      authorization: {
        default: 'deny',
        rules: [
          { name: 'ops-every', principals: { groups: ['ops'] }, allow: { backends: ['every'] } },
          { name: 'dev-all', principals: { groups: ['dev'] }, allow: { backends: ['*'] } },
        ],
      },
      backends: { every: everythingStdio(), secretsvc: { type: 'mcp', url: `http://127.0.0.1:${port}/mcp`, connect_timeout: '1s' } },
    });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await gw?.close();
  });

  it('a principal not allowed the backend is refused by the rules, and learns neither its name nor its state', async () => {
    const ops = await connect(OPS);
    const err = await errorOf(ops.callTool({ name: 'secretsvc__anything', arguments: {} }));
    assert.equal(err.code, ERRORS.MCPEG_ERR_FORBIDDEN.rpc, err.message);
    assert.doesNotMatch(`${err.message} ${JSON.stringify(err.data)}`, /not up|secretsvc"/);
    const unknown = await errorOf(ops.callTool({ name: 'nobackend__x', arguments: {} }));
    assert.equal((unknown.data as { mcpegCode?: string }).mcpegCode, 'MCPEG_ERR_UNKNOWN_TOOL');
  });

  it('a principal allowed it is told it is not up yet', async () => {
    const dev = await connect(DEV);
    const err = await errorOf(dev.callTool({ name: 'secretsvc__anything', arguments: {} }));
    assert.equal(err.code, -32010, err.message);
    assert.match(err.message, /backend "secretsvc" is not up yet/);
  });
});
