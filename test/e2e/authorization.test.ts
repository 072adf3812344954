/**
 * Authorization end to end (issue 17, "two principals see different tool lists; refused
 * calls name the rule; audit lines exist"): a real gateway on a socket, server-everything
 * as a stdio child, two API-key principals, the official SDK client. Lists are filtered per
 * principal on the aggregate and per-backend endpoints and for stateless 2026-07-28
 * POSTs; refused tools/call, prompts/get, resources/read, resources/subscribe and
 * completion/complete name the rule; each decision leaves an audit line in the gateway's log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { configSecrets } from '../../src/observability/secrets.js';
import { validateConfig } from '../../src/config/load.js';
import { ERRORS } from '../../src/errors/catalog.js';
import { everythingStdio, MCP_HEADERS, startGateway, textOf } from '../helpers/gateway.js';

const OPS = 'ops-key-0123456789abcdef';
const DEV = 'dev-key-0123456789abcdef';
const FORBIDDEN = ERRORS.MCPEG_ERR_FORBIDDEN.rpc;

const CONFIG = {
  auth: {
    api_keys: [
      { name: 'ops', key: OPS, groups: ['ops'] },
      { name: 'dev', key: DEV, groups: ['dev'] },
    ],
  },
  rate_limits: { rules: [{ scope: 'tool', match: 'every__get-sum', key: 'principal', rate: 0.001, burst: 1 }] },
  authorization: {
    default: 'deny',
    rules: [
      { name: 'ops-everything', principals: { groups: ['ops'] }, allow: { backends: ['*'] } },
      {
        name: 'dev-tools',
        principals: { groups: ['dev'] },
        allow: {
          tools: ['every__echo', 'every__get-*'],
          prompts: ['every__simple-prompt', 'every/completable-prompt'],
          resources: ['demo://resource/static/document/architecture.md', 'demo://resource/dynamic/text/*'],
        },
      },
      { name: 'no-env', principals: { api_keys: ['dev'] }, deny: { tools: ['every/get-env'] } },
    ],
  },
  backends: { every: everythingStdio() },
};

type Line = Record<string, unknown>;

describe('authorization (e2e)', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  const lines: string[] = [];
  const audit = (): Line[] =>
    lines
      .flatMap((l) => l.split('\n'))
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line)
      .filter((l) => l.audit === 'authz');
  const clients: Client[] = [];

  async function connect(key: string, path = '/mcp'): Promise<Client> {
    const c = new Client({ name: 'authz-test', version: '1' }, { capabilities: {} });
    await c.connect(new StreamableHTTPClientTransport(new URL(gw.base + path), { requestInit: { headers: { 'x-api-key': key } } }));
    clients.push(c);
    return c;
  }

  async function refused(p: Promise<unknown>, rule: string): Promise<McpError> {
    const err = await p.then(
      () => assert.fail('expected the request to be refused'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof McpError, String(err));
    assert.equal(err.code, FORBIDDEN, err.message);
    assert.match(err.message, new RegExp(`rule "${rule}"`));
    assert.equal((err.data as { rule?: string; mcpegCode?: string }).rule, rule);
    assert.equal((err.data as { mcpegCode?: string }).mcpegCode, 'MCPEG_ERR_FORBIDDEN');
    return err;
  }

  before(async () => {
    // As `mcpeg gateway` does: the config's secrets are scrubbed from every line (rule names are no secrets).
    const secrets = configSecrets(validateConfig(CONFIG, 'test'), {});
    gw = await startGateway(CONFIG, { logger: createLogger('info', { write: (s: string) => void lines.push(s) }, { secrets }) });
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await gw.close();
  });

  it('two principals see different tool lists, and nothing they may not call', async () => {
    const ops = await connect(OPS);
    const dev = await connect(DEV);
    const opsTools = (await ops.listTools()).tools.map((t) => t.name).sort();
    const devTools = (await dev.listTools()).tools.map((t) => t.name).sort();
    assert.ok(opsTools.includes('every__get-env') && opsTools.includes('every__trigger-long-running-operation'), opsTools.join());
    assert.ok(devTools.includes('every__echo') && devTools.includes('every__get-sum'), devTools.join());
    assert.ok(!devTools.includes('every__get-env'), 'denied by no-env');
    assert.ok(!devTools.some((n) => n.includes('trigger')), 'not allowed: default deny');
    assert.ok(
      devTools.every((n) => n === 'every__echo' || n.startsWith('every__get-')),
      devTools.join(),
    );
    assert.ok(devTools.length < opsTools.length);
    // Every listed tool can be called (nothing is listed that would be refused).
    assert.equal(textOf(await dev.callTool({ name: 'every__echo', arguments: { message: 'hi' } })), 'Echo: hi');
  });

  it('a refused call names the rule: deny wins over an allow pattern, the default otherwise', async () => {
    const dev = await connect(DEV);
    const denied = await refused(dev.callTool({ name: 'every__get-env', arguments: {} }), 'no-env');
    assert.match(denied.message, /principal key:dev/);
    await refused(dev.callTool({ name: 'every__trigger-long-running-operation', arguments: { duration: 1, steps: 1 } }), 'default');
    const ops = await connect(OPS);
    assert.match(textOf(await ops.callTool({ name: 'every__get-env', arguments: {} })), /PATH|HOME|\{/);
  });

  it("per-backend endpoint: the same rules on the backend's own names", async () => {
    const dev = await connect(DEV, '/servers/every/mcp');
    const names = (await dev.listTools()).tools.map((t) => t.name);
    assert.ok(names.includes('echo') && !names.includes('get-env') && !names.includes('trigger-sampling-request'), names.join());
    await refused(dev.callTool({ name: 'get-env', arguments: {} }), 'no-env');
    assert.equal(textOf(await dev.callTool({ name: 'echo', arguments: { message: 'x' } })), 'Echo: x');
  });

  it('prompts, resources, templates and completions: filtered lists, refused requests', async () => {
    const dev = await connect(DEV);
    assert.deepEqual((await dev.listPrompts()).prompts.map((p) => p.name).sort(), ['every__completable-prompt', 'every__simple-prompt']);
    await dev.getPrompt({ name: 'every__simple-prompt' });
    await refused(dev.getPrompt({ name: 'every__args-prompt', arguments: { city: 'x' } }), 'default');

    const resources = (await dev.listResources()).resources.map((r) => r.uri);
    assert.deepEqual(resources, ['demo://resource/static/document/architecture.md']);
    assert.ok((await dev.readResource({ uri: resources[0] })).contents.length > 0);
    await refused(dev.readResource({ uri: 'demo://resource/static/document/features.md' }), 'default');
    await refused(dev.readResource({ uri: 'demo://resource/dynamic/blob/1' }), 'default');
    assert.ok((await dev.readResource({ uri: 'demo://resource/dynamic/text/1' })).contents.length > 0);
    // A "..": the allow pattern does not cover it, whatever the backend would make of it.
    await refused(dev.readResource({ uri: 'demo://resource/dynamic/text/../../static/document/features.md' }), 'default');
    await refused(dev.subscribeResource({ uri: 'demo://resource/static/document/features.md' }), 'default');

    const templates = (await dev.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    assert.deepEqual(templates, ['demo://resource/dynamic/text/{resourceId}']);

    const ok = await dev.complete({ ref: { type: 'ref/prompt', name: 'every__completable-prompt' }, argument: { name: 'department', value: 'E' } });
    assert.ok(Array.isArray(ok.completion.values));
    await refused(dev.complete({ ref: { type: 'ref/prompt', name: 'every__args-prompt' }, argument: { name: 'city', value: 'x' } }), 'default');
    await refused(dev.complete({ ref: { type: 'ref/resource', uri: 'demo://resource/dynamic/blob/{resourceId}' }, argument: { name: 'resourceId', value: '1' } }), 'default');
  });

  it('stateless 2026-07-28 POSTs: filtered, privately cached lists; refused calls', async () => {
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const post = async (key: string, method: string, params: Record<string, unknown>, name?: string) => {
      const res = await fetch(gw.url, {
        method: 'POST',
        headers: { ...MCP_HEADERS, 'x-api-key': key, 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.json()) as { result?: Record<string, unknown>; error?: { code: number; message: string; data: { rule: string } } };
    };
    const devList = await post(DEV, 'tools/list', {});
    const opsList = await post(OPS, 'tools/list', {});
    const names = (r: typeof devList) => (r.result!.tools as Array<{ name: string }>).map((t) => t.name);
    assert.ok(!names(devList).includes('every__get-env') && names(opsList).includes('every__get-env'));
    assert.equal(devList.result!.cacheScope, 'private', 'a list filtered per principal is not for shared caches');
    const call = await post(DEV, 'tools/call', { name: 'every__get-env', arguments: {} }, 'every__get-env');
    assert.equal(call.error?.code, FORBIDDEN);
    assert.equal(call.error?.data.rule, 'no-env');
  });

  it('attacker: names that differ in case, unicode lookalikes, prototype keys find no tool (nothing relayed)', async () => {
    const dev = await connect(DEV);
    const before = audit().filter((l) => l.action === 'tools/call').length;
    for (const name of [
      'every__GET-ENV',
      'EVERY__get-env',
      'every__get\u2010env',
      'every__get-env\u200b',
      'every__gеt-env',
      '__proto__',
      'constructor',
      'every__constructor',
      'toString',
    ]) {
      const err = await dev.callTool({ name, arguments: {} }).then(
        () => assert.fail(`${name} was called`),
        (e: unknown) => e as McpError,
      );
      assert.equal(err.code, ERRORS.MCPEG_ERR_UNKNOWN_TOOL.rpc, `${name}: ${err.message}`);
    }
    assert.equal(audit().filter((l) => l.action === 'tools/call').length, before, 'no decision was needed: no tool of that name exists');
  });

  it('rate limits keyed on the principal: one bucket per principal', async () => {
    const ops = await connect(OPS);
    const dev = await connect(DEV);
    await ops.callTool({ name: 'every__get-sum', arguments: { a: 1, b: 2 } });
    const err = await ops.callTool({ name: 'every__get-sum', arguments: { a: 1, b: 2 } }).then(
      () => assert.fail('second call should be limited'),
      (e: unknown) => e as McpError,
    );
    assert.equal(err.code, ERRORS.MCPEG_ERR_RATE_LIMITED.rpc);
    // Another principal (another session, same address) has its own bucket.
    assert.match(textOf(await dev.callTool({ name: 'every__get-sum', arguments: { a: 1, b: 2 } })), /3/);
  });

  it('a reload applies new rules to the next requests of open sessions; a section removed allows everything again', async () => {
    const dev = await connect(DEV);
    await refused(dev.callTool({ name: 'every__get-env', arguments: {} }), 'no-env');
    const rules = CONFIG.authorization.rules.filter((r) => r.name !== 'no-env');
    await gw.gw.reload(validateConfig({ ...CONFIG, server: gw.gw.config.server, authorization: { ...CONFIG.authorization, rules } }, 'reload'));
    assert.match(textOf(await dev.callTool({ name: 'every__get-env', arguments: {} })), /PATH|HOME|\{/);
    assert.ok((await dev.listTools()).tools.some((t) => t.name === 'every__get-env'));
    await refused(dev.callTool({ name: 'every__trigger-long-running-operation', arguments: { duration: 1, steps: 1 } }), 'default');
    const { authorization: _, ...without } = CONFIG;
    await gw.gw.reload(validateConfig({ ...without, server: gw.gw.config.server }, 'reload'));
    const all = (await dev.listTools()).tools.length;
    assert.ok(all > 15, `everything listed (${all})`);
    await gw.gw.reload(validateConfig({ ...CONFIG, server: gw.gw.config.server }, 'reload'));
    await refused(dev.callTool({ name: 'every__get-env', arguments: {} }), 'no-env');
  });

  it('one audit line per decision: calls (allowed and refused, with the rule) and list requests', async () => {
    await new Promise((r) => setTimeout(r, 50));
    const lines = audit();
    const denied = lines.find((l) => l.action === 'tools/call' && l.principal === 'key:dev' && l.rule === 'no-env');
    assert.ok(denied, 'the refused call is audited');
    assert.equal(denied.decision, 'deny');
    assert.equal(denied.backend, 'every');
    assert.equal(denied.level, 40);
    const allowed = lines.find((l) => l.action === 'tools/call' && l.principal === 'key:ops' && l.target === 'every__get-env');
    assert.ok(allowed);
    assert.deepEqual([allowed.decision, allowed.rule], ['allow', 'ops-everything']);
    for (const action of ['prompts/get', 'resources/read', 'resources/subscribe', 'completion/complete']) {
      assert.ok(
        lines.some((l) => l.action === action && l.decision === 'deny' && l.principal === 'key:dev'),
        `a refused ${action} is audited`,
      );
    }
    const listed = lines.filter((l) => l.action === 'tools/list' && l.principal === 'key:dev');
    assert.ok(listed.length >= 2);
    assert.equal(listed[0].decision, 'filter');
    assert.ok((listed[0].hidden as number) > 0 && (listed[0].listed as number) > 0);
    // No credential and no session id in any audit line.
    const text = JSON.stringify(lines);
    assert.ok(!text.includes(DEV) && !text.includes(OPS));
    assert.ok(lines.every((l) => !('session' in l)));
  });
});
