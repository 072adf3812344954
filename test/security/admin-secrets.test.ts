/**
 * Issue #14 item 3: secrets do not leave through the admin API.
 * (a) GET /admin/config, then PUT it back with only base_url changed, must not re-bind the
 *     "[redacted]" bearer token to the new host: a real recording server as that host
 *     proves it never receives the token; PUT with base_url unchanged keeps the token.
 * (b) *_env may only name variables the config FILE declares under `secrets` — in the file
 *     (`mcpeg validate` too) and over the API; a declared one cannot be pointed at a new
 *     host over the API unless the file allows it.
 * (c) Redaction covers header values, secret query parameters, `--token X` arguments,
 *     keys like `github_token`/`clientSecret`, URL passwords containing "@"; and the log
 *     scrubs the same values.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { CLI, connectClient } from '../helpers/gateway.js';
import { startAdminGateway, type AdminGateway } from '../helpers/admin.js';
import { startRecorder, type HttpRecorder } from '../helpers/http-recorder.js';

const ENV_NAME = 'MCPEG_ADMIN_SEC_TOKEN';
const S = {
  bearer: 'bearer-literal-7f3a9c1e5b',
  env: 'env-referenced-2d8e4f6a0c',
  header: 'custom-header-4b1d9e7a3f',
  toolHeader: 'tool-header-8c2e5a1f7d',
  query: 'tool-query-6e3b8d2a4c',
  urlPw: 'p@ss-url-9a7c5e3b1d',
  urlQuery: 'url-query-3f8b2d6e0a',
  urlSig: 'url-sig-5c1e9a7d3b',
  urlUser: 'ghp-url-user-1a3c5e7b9d',
  arg: 'arg-token-0b2d4f6a8c',
  argEq: 'arg-eq-key-7e5c3a1f9b',
  argPw: 'arg-password-4d6f8b0a2c',
  argHeader: 'arg-header-9f7d5b3a1e',
  envVal: 'env-value-6a4c2e0b8d',
  ghToken: 'plugin-gh-token-3e5a7c9b1d',
  clientSecret: 'plugin-client-secret-8b6d4f2a0c',
  dbPassword: 'plugin-db-password-1f3b5d7a9c',
  apiKey: 'plugin-api-key-5d3f1b9a7e',
  privateKey: 'plugin-private-key-2c4e6a8b0d',
  pluginUrlPw: 'plugin-url-p@ss-0e8c6a4b2d',
  gitHeader: 'git-extra-header-6b8d0f2a4c',
  gitUrlPw: 'git-insteadof-pw-3a5c7e9b1d',
};

const BAG = `export default { name: 'bag', version: '1.0.0', start(config, ctx) { ctx.log.info({ config }, 'bag plugin started'); return { tools: [] }; } };\n`;

describe('admin API: secrets stay where the config file put them (issue 14, item 3)', () => {
  let good: HttpRecorder;
  let evil: HttpRecorder;
  let g: AdminGateway;
  let client: Client;
  const leaked = (text: string) =>
    Object.entries(S)
      .filter(([, v]) => text.includes(v))
      .map(([k]) => k);

  before(async () => {
    good = await startRecorder();
    evil = await startRecorder();
    for (const r of [good, evil]) r.route('*', /.*/, { body: { ok: true } });
    process.env[ENV_NAME] = S.env;
    g = await startAdminGateway((dir) => {
      const bag = join(dir, 'bag.mjs');
      writeFileSync(bag, BAG);
      return {
        secrets: [ENV_NAME],
        backends: {
          api: {
            type: 'rest',
            base_url: `${good.url}/api`,
            auth: { type: 'bearer', token: S.bearer },
            headers: { 'x-custom-token': S.header, 'x-goog-api-key': S.header, accept: 'application/json' },
            tools: { whoami: { method: 'GET', path: '/whoami', headers: { 'x-tool-secret': S.toolHeader }, query: { api_key: S.query, page: '1' } } },
          },
          envapi: { type: 'rest', base_url: `${good.url}/env`, auth: { type: 'bearer', token_env: ENV_NAME }, tools: { ping: { method: 'GET', path: '/ping' } } },
          urls: {
            type: 'rest',
            enabled: false,
            base_url: `http://user:${S.urlPw}@127.0.0.1:9/x?api_key=${S.urlQuery}&X-Amz-Signature=${S.urlSig}&page=2`,
            tools: { t: { method: 'GET', path: '/t' } },
          },
          tokenuser: { type: 'mcp', enabled: false, url: `https://${S.urlUser}@127.0.0.1:9/mcp` },
          prog: {
            type: 'mcp',
            enabled: false,
            command: process.execPath,
            args: ['server.js', '--token', S.arg, `--api-key=${S.argEq}`, '--password', S.argPw, '-H', `Authorization: Bearer ${S.argHeader}`, '--verbose'],
            env: { SOME_SETTING: S.envVal },
          },
        },
        plugins: [
          // git settings the operator gives the git plugin: a header line and a URL with credentials in a key.
          {
            name: 'git',
            config: {
              config: {
                'http.extraHeader': `Authorization: Bearer ${S.gitHeader}`,
                [`url.https://u:${S.gitUrlPw}@git.example/.insteadOf`]: 'https://git.example/',
                'user.name': 'operator',
              },
            },
          },
          {
            name: 'bag',
            module: bag,
            config: {
              github_token: S.ghToken,
              clientSecret: S.clientSecret,
              db_password: S.dbPassword,
              apiKey: S.apiKey,
              nested: { private_key: S.privateKey },
              upstream: `https://svc:${S.pluginUrlPw}@example.com/v1`,
              max_tokens: 4096,
              hash_key: 'session',
              tokenizer: 'cl100k',
              token_url: 'https://auth.example.com/token',
            },
          },
        ],
      };
    });
    client = await connectClient(g.mcpUrl);
  });
  after(async () => {
    await client?.close();
    await g?.close();
    await good?.close();
    await evil?.close();
    delete process.env[ENV_NAME];
  });

  it('(a) GET then PUT with only base_url changed is 400, and the new host never receives the token', async () => {
    const cfg = (await g.admin('GET', '/admin/config')).body.config;
    assert.equal(cfg.backends.api.auth.token, '[redacted]');
    const before = g.gw.config;
    const moved = await g.admin('PUT', '/admin/config', { ...cfg, backends: { ...cfg.backends, api: { ...cfg.backends.api, base_url: evil.url } } });
    assert.equal(moved.status, 400, JSON.stringify(moved.body));
    assert.equal(moved.body.error.code, 'MCPEG_ERR_INVALID_PARAMS');
    assert.match(moved.body.error.message, /backends\.api\.auth\.token/);
    assert.match(moved.body.error.message, /send the secret itself/);
    assert.equal(g.gw.config, before, 'nothing changed');
    await client.callTool({ name: 'api__whoami', arguments: {} });
    assert.deepEqual(evil.all(), [], 'the new host received nothing');
    assert.equal(good.last('/api/whoami')?.headers.authorization, `Bearer ${S.bearer}`);

    // Unchanged destination: the document goes back as it came and the token is kept.
    const kept = await g.admin('PUT', '/admin/config', { ...cfg, server: { ...cfg.server, max_sessions: 321 } });
    assert.equal(kept.status, 200, JSON.stringify(kept.body));
    assert.equal(g.gw.config.server.max_sessions, 321);
    good.reset();
    good.route('*', /.*/, { body: { ok: true } });
    await client.callTool({ name: 'api__whoami', arguments: {} });
    const seen = good.last('/api/whoami');
    assert.equal(seen?.headers.authorization, `Bearer ${S.bearer}`, 'the running token still goes to its host');
    assert.equal(seen?.headers['x-custom-token'], S.header);
    assert.deepEqual(evil.all(), []);

    // A secret sent in full may go anywhere: the admin knew it.
    const cfg2 = (await g.admin('GET', '/admin/config')).body.config;
    const other = structuredClone(cfg2.backends.api);
    other.base_url = evil.url;
    other.auth.token = 'a-token-the-admin-typed';
    other.headers = { accept: 'application/json' };
    other.tools.whoami.headers = {};
    other.tools.whoami.query = {};
    const sent = await g.admin('PUT', '/admin/config', { ...cfg2, backends: { ...cfg2.backends, api: other } });
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    await client.callTool({ name: 'api__whoami', arguments: {} });
    assert.equal(evil.last()?.headers.authorization, 'Bearer a-token-the-admin-typed');
    assert.deepEqual(leaked(JSON.stringify(evil.all())), [], 'none of the running secrets');
    evil.reset();
    evil.route('*', /.*/, { body: { ok: true } });
  });

  it('(a) a URL password or a secret argument is kept only where it was', async () => {
    const cfg = (await g.admin('GET', '/admin/config')).body.config;
    const urls = cfg.backends.urls.base_url as string;
    assert.ok(urls.includes('[redacted]'), urls);
    const moved = await g.admin('PUT', '/admin/config', {
      ...cfg,
      backends: { ...cfg.backends, urls: { ...cfg.backends.urls, base_url: urls.replace('127.0.0.1:9', evil.url.slice('http://'.length)) } },
    });
    assert.equal(moved.status, 400, JSON.stringify(moved.body));
    assert.match(moved.body.error.message, /backends\.urls\.base_url/);
    const prog = cfg.backends.prog;
    const args = await g.admin('PUT', '/admin/config', { ...cfg, backends: { ...cfg.backends, prog: { ...prog, args: ['other.js', ...prog.args.slice(1)] } } });
    assert.equal(args.status, 400, JSON.stringify(args.body));
    assert.match(args.body.error.message, /backends\.prog\.(args|env)/);
    // A plugin's secrets belong to its module and the rest of its config.
    const bag = (await g.admin('GET', '/admin/plugins/bag/config')).body.config;
    const elsewhere = await g.admin('PUT', '/admin/plugins/bag/config', { ...bag, upstream: `${evil.url}/v1` });
    assert.equal(elsewhere.status, 400, JSON.stringify(elsewhere.body));
    assert.match(elsewhere.body.error.message, /plugins\.1\.config\.github_token/);
    const same = await g.admin('PUT', '/admin/plugins/bag/config', bag);
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.equal((g.gw.config.plugins.find((p) => p.name === 'bag')!.config as Record<string, unknown>).github_token, S.ghToken, 'kept');
  });

  it('(b) an undeclared *_env is a config error over the API; a declared one cannot move to a new host', async () => {
    const before = g.gw.config;
    const post = (name: string, auth: unknown) =>
      g.admin('POST', '/admin/services', { name, config: { type: 'rest', base_url: evil.url, auth, tools: { ping: { method: 'GET', path: '/ping' } } } });
    const home = await post('leak', { type: 'api_key', name: 'x-k', value_env: 'HOME' });
    assert.equal(home.status, 400, JSON.stringify(home.body));
    assert.equal(home.body.error.code, 'MCPEG_ERR_CONFIG_INVALID');
    assert.ok(
      home.body.error.data.problems.some((p: string) => p.startsWith('backends.leak.auth.value_env') && /secrets/.test(p)),
      JSON.stringify(home.body),
    );
    const declared = await post('leak2', { type: 'bearer', token_env: ENV_NAME });
    assert.equal(declared.status, 403, JSON.stringify(declared.body));
    assert.match(declared.body.error.message, /backends\.leak2\.auth\.token_env/);
    assert.match(declared.body.error.message, /admin\.allow\.environment/);
    const cfg = (await g.admin('GET', '/admin/config')).body.config;
    const moved = await g.admin('PUT', '/admin/config', { ...cfg, backends: { ...cfg.backends, envapi: { ...cfg.backends.envapi, base_url: evil.url } } });
    assert.equal(moved.status, 403, JSON.stringify(moved.body));
    assert.match(moved.body.error.message, /backends\.envapi\.auth\.token_env/);
    const envAllow = await g.admin('POST', '/admin/services', {
      name: 'envdump',
      config: { type: 'command', env_allow: ['PATH', ENV_NAME], tools: { t: { command: process.execPath, args: ['-e', `console.log(process.env.${ENV_NAME})`] } } },
    });
    assert.equal(envAllow.status, 403, JSON.stringify(envAllow.body));
    assert.match(envAllow.body.error.message, /backends\.envdump\.env_allow: gives programs MCPEG_ADMIN_SEC_TOKEN/);
    const added = await g.admin('PUT', '/admin/config', { ...cfg, secrets: [ENV_NAME, 'HOME'] });
    assert.equal(added.status, 403, "the declaration is the file's");
    assert.equal(g.gw.config, before, 'nothing changed');
    await client.callTool({ name: 'envapi__ping', arguments: {} });
    assert.equal(good.last('/env/ping')?.headers.authorization, `Bearer ${S.env}`);
    assert.deepEqual(evil.all(), [], 'the new host received nothing');
  });

  it('(c) GET /admin/config, /admin/services/{name} and /admin/plugins/{name}/config show no secret', async () => {
    const answers = [
      await g.admin('GET', '/admin/config'),
      ...(await Promise.all(['api', 'envapi', 'urls', 'tokenuser', 'prog', 'bag'].map((n) => g.admin('GET', `/admin/services/${n}`)))),
      await g.admin('GET', '/admin/plugins/bag/config'),
      await g.admin('GET', '/admin/plugins/bag'),
      await g.admin('GET', '/admin/plugins/git/config'),
    ];
    for (const a of answers) {
      assert.equal(a.status, 200, a.text);
      assert.deepEqual(leaked(a.text), [], a.text);
    }
    const cfg = answers[0].body.config;
    const bag = cfg.plugins.find((p: { name: string }) => p.name === 'bag').config;
    assert.equal(bag.max_tokens, 4096, 'numbers are not secrets');
    assert.equal(bag.hash_key, 'session');
    assert.equal(bag.tokenizer, 'cl100k');
    assert.equal(bag.token_url, 'https://auth.example.com/token');
    assert.equal(cfg.backends.envapi.auth.token_env, ENV_NAME, 'names of variables are shown');
    assert.match(cfg.backends.urls.base_url, /page=2/);
    assert.equal(cfg.backends.prog.args[0], 'server.js');
    assert.equal(cfg.backends.prog.args.at(-1), '--verbose');
    assert.equal(cfg.backends.api.headers.accept, 'application/json');
  });

  it('(c) the log scrubs the same secrets (a plugin that logs its config)', async () => {
    const text = g.lines.join('');
    assert.match(text, /bag plugin started/);
    assert.deepEqual(leaked(text), []);
  });
});

describe('secrets declaration in the config file (issue 14, item 3b)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-secrets-decl-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, doc: unknown) => {
    const f = join(dir, name);
    writeFileSync(f, stringify(doc));
    return f;
  };
  const backend = (auth: unknown) => ({ type: 'rest', base_url: 'http://127.0.0.1:9', auth, tools: { ping: { method: 'GET', path: '/ping' } } });

  it('value_env: HOME without a declaration is refused at load and by mcpeg validate, naming the key path', () => {
    const f = file('home.yaml', { backends: { x: backend({ type: 'api_key', name: 'k', value_env: 'HOME' }) } });
    assert.throws(
      () => loadConfig({ file: f }),
      (err: Error & { problems?: string[] }) => (err.problems ?? []).some((p) => p.startsWith('backends.x.auth.value_env') && /HOME/.test(p) && /secrets/.test(p)),
    );
    const run = spawnSync(process.execPath, [CLI, 'validate', '--config', f], { encoding: 'utf8' });
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stderr, /backends\.x\.auth\.value_env/);
  });

  it('a declared variable is accepted; a declaration that is not a variable name is refused', () => {
    const ok = file('ok.yaml', { secrets: ['MY_TOKEN'], backends: { x: backend({ type: 'bearer', token_env: 'MY_TOKEN' }) } });
    assert.deepEqual(loadConfig({ file: ok, env: { MY_TOKEN: 't' } }).secrets, ['MY_TOKEN']);
    const bad = file('bad.yaml', { secrets: ['not a name'] });
    assert.throws(() => loadConfig({ file: bad }), /secrets\.0/);
  });
});
