/**
 * Explaining authorization: GET /admin/authz/explain on a running gateway (the rules in
 * force and what each backend lists now; principals by id or by attributes) and the CLI,
 * `mcpeg authz explain`, as a child process: offline from the config file, and against the
 * admin API. The answers must agree with what the MCP endpoint does.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CLI, everythingStdio } from '../helpers/gateway.js';
import { startAdminGateway, VIEWER_KEY, type AdminGateway } from '../helpers/admin.js';

const CONFIG = {
  auth: { api_keys: [{ name: 'ci', key: 'ci-key-0123456789abcdef', groups: ['robots'] }] },
  authorization: {
    default: 'deny',
    rules: [
      { name: 'robots-read', principals: { groups: ['robots'] }, allow: { tools: ['every__get-*', 'every/echo'] } },
      { name: 'eng', principals: { groups: ['eng'] }, allow: { backends: ['every'] } },
      { name: 'no-env', deny: { tools: ['every__get-env'] } },
    ],
  },
  backends: { every: everythingStdio() },
};

interface Decision {
  backend: string;
  name: string;
  exposed?: string;
  allowed: boolean;
  rule: string;
  reason: string;
}

/** The CLI as a child process (asynchronously: the gateway it may ask runs in this process). */
async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const r = await promisify(execFile)(process.execPath, [CLI, 'authz', 'explain', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout, err: e.stderr };
  }
}

describe('authz explain', () => {
  let g: AdminGateway;
  before(async () => {
    g = await startAdminGateway(CONFIG);
  });
  after(() => g.close());

  const explain = async (query: string) => g.admin('GET', `/admin/authz/explain?${query}`, undefined, { key: VIEWER_KEY });

  it('one tool, by id: the rule and why', async () => {
    const r = await explain('principal=key:ci&tool=every__get-env');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.principal, { id: 'key:ci', kind: 'api_key', keyName: 'ci', groups: ['robots'] }, 'the key brings its configured groups');
    assert.deepEqual(r.body.rules, ['robots-read', 'no-env']);
    assert.equal(r.body.allowed, false);
    const [d] = r.body.decisions as Decision[];
    assert.deepEqual([d.backend, d.name, d.exposed, d.rule], ['every', 'get-env', 'every__get-env', 'no-env']);
    assert.match(d.reason, /denies tools "every__get-env"/);
    const echo = await explain('principal=key:ci&backend=every&tool=echo');
    assert.deepEqual([echo.body.allowed, echo.body.decisions[0].rule], [true, 'robots-read']);
  });

  it('an OAuth principal described by attributes (not known in advance)', async () => {
    const r = await explain('sub=alice&issuer=https://idp.example&groups=eng&tool=every__trigger-long-running-operation');
    assert.equal(r.body.principal.id, 'oauth:https://idp.example#alice');
    assert.deepEqual([r.body.allowed, r.body.decisions[0].rule], [true, 'eng']);
    const nobody = await explain('sub=mallory&tool=every__trigger-long-running-operation');
    assert.deepEqual([nobody.body.allowed, nobody.body.decisions[0].rule], [false, 'default']);
  });

  it('the whole picture: every backend and each item it lists, as the MCP endpoint filters them', async () => {
    const r = await explain('principal=key:ci');
    assert.equal(r.status, 200);
    const every = r.body.backends.find((b: { name: string }) => b.name === 'every');
    const allowed = (every.tools as Decision[]).filter((t) => t.allowed).map((t) => t.exposed);
    assert.ok(allowed.includes('every__echo') && allowed.includes('every__get-sum') && !allowed.includes('every__get-env'), allowed.join());
    assert.ok((every.tools as Decision[]).some((t) => t.name === 'trigger-sampling-request' && !t.allowed && t.rule === 'default'));
    assert.equal(every.allowed, false, 'the backend itself is not allowed: robots-read names tools only');
    // Agrees with what the MCP endpoint lists for the key.
    const res = await fetch(g.mcpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'x-api-key': 'ci-key-0123456789abcdef',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/list',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
        params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
      }),
    });
    const listed = ((await res.json()) as { result: { tools: Array<{ name: string }> } }).result.tools.map((t) => t.name);
    assert.deepEqual(listed.sort(), allowed.sort());
  });

  it('bad questions get 400 naming the parameter', async () => {
    for (const [q, re] of [
      ['principal=key:ci&colour=red', /unknown parameter "colour"/],
      ['principal=bogus', /expected anonymous, key:<name> or oauth/],
      ['tool=a&tool=b', /given twice/],
      ['principal=key:ci&sub=x', /API key principal has no sub/],
      ['__proto__=x', /unknown parameter "__proto__"/],
    ] as const) {
      const r = await explain(q);
      assert.equal(r.status, 400, q);
      assert.match(r.body.error.message, re, q);
    }
  });

  it('CLI, offline from the config file: the same decisions without a running gateway', async () => {
    const r = await cli(['--config', g.file, '--principal', 'key:ci', '--tool', 'every__get-env']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /principal key:ci \(api_key, groups robots\)/);
    assert.match(r.out, /tool every__get-env on backend every \(get-env\): DENIED \(rule no-env\)/);
    const json = await cli(['--config', g.file, '--api-key', 'ci', '--tool', 'every/echo', '--json']);
    const body = JSON.parse(json.out) as { allowed: boolean; decisions: Decision[] };
    assert.deepEqual([body.allowed, body.decisions[0].rule], [true, 'robots-read']);
    const all = await cli(['--config', g.file, '--sub', 'alice', '--groups', 'eng']);
    assert.match(all.out, /backend every: allowed \(rule eng\)/);
    const bad = await cli(['--config', g.file, '--tool', 'x', '--prompt', 'y']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /one target at a time/);
  });

  it('CLI against the admin API: the catalogs of the running gateway', async () => {
    const base = g.adminUrl.replace(/\/admin$/, '');
    const r = await cli(['--admin', base, '--principal', 'key:ci'], { MCPEG_ADMIN_KEY: VIEWER_KEY });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /tool every__get-env: DENIED \(rule no-env\)/);
    assert.match(r.out, /tool every__echo: allowed \(rule robots-read\)/);
    const unauthorized = await cli(['--admin', base, '--principal', 'key:ci'], { MCPEG_ADMIN_KEY: 'wrong' });
    assert.equal(unauthorized.code, 1);
    assert.match(unauthorized.err, /401/);
  });
});
