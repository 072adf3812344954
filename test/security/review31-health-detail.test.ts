/**
 * Review 31: with authentication configured the MCP endpoints need a credential, but on the
 * same listener `GET /health` told anyone who reached the port every backend's name,
 * transport, replica endpoints (internal URLs) and last errors (naming internal hosts),
 * `/health/ready` named the required backends not up, and `/metrics` labelled its series
 * with every backend, tool and replica. Through a real `mcpeg gateway` process with API keys:
 * an unauthenticated (or wrongly authenticated) caller now gets the status alone from
 * /health and /health/ready, with the same HTTP status (probes keep working), and 401 with
 * the MCP endpoint's challenge from /metrics; a caller with a key gets the detail as before.
 * `auth.public_metrics: true` opens /metrics again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, spawnGateway, stopGateway, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startMcpRecorder } from '../helpers/mcp-recorder.js';

const KEY = 'health-reader-key-0123456789';
const AUTH = { api_keys: [{ name: 'ops', key: KEY }] };

const cleanups: Array<() => Promise<unknown> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

async function spawnWith(config: Record<string, unknown>): Promise<{ base: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-r31-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'mcpeg.json');
  writeFileSync(file, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, ...config }));
  let g: GatewayProcess | undefined;
  cleanups.push(() => stopGateway(g));
  g = await spawnGateway(file);
  return { base: g.url.replace(/\/mcp$/, '') };
}

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  return { status: res.status, text: await res.text(), challenge: res.headers.get('www-authenticate') };
};

describe('review 31: health and metrics detail need the credentials the MCP endpoints need', () => {
  let base: string;
  let recPort: string;
  let deadPorts: number[];
  before(async () => {
    const rec = await startMcpRecorder();
    cleanups.push(() => rec.close());
    recPort = new URL(rec.mcpUrl).port;
    // Two "internal" replicas nobody listens on: their URLs end up in the backend's errors.
    deadPorts = [await freePort(), await freePort()];
    ({ base } = await spawnWith({
      auth: AUTH,
      backends: {
        crm_public: { type: 'mcp', url: rec.mcpUrl },
        internal_billing: { type: 'mcp', required: true, endpoints: deadPorts.map((p) => ({ url: `http://127.0.0.1:${p}/mcp` })) },
      },
    }));
  });

  /** What must not reach a caller who did not authenticate. */
  const assertNoDetail = (text: string, what: string) => {
    for (const secret of ['internal_billing', 'crm_public', recPort, ...deadPorts.map(String), 'backends', 'waitingFor', '127.0.0.1'])
      assert.ok(!text.includes(secret), `${what} reveals ${secret}: ${text}`);
  };

  it('GET /health: the status alone without a credential or with a bad one, the same HTTP status; the detail with a key', async () => {
    const full = await get(`${base}/health`, { 'x-api-key': KEY });
    assert.equal(full.status, 503);
    const body = JSON.parse(full.text) as { status: string; backends: Array<{ name: string; error?: string; replicas?: unknown[] }> };
    assert.equal(body.status, 'degraded');
    assert.deepEqual(body.backends.map((b) => b.name).sort(), ['crm_public', 'internal_billing']);
    assert.match(JSON.stringify(body.backends.find((b) => b.name === 'internal_billing')), new RegExp(`127\\.0\\.0\\.1:${deadPorts[0]}`));
    // The key as a bearer token is as good.
    assert.deepEqual(JSON.parse((await get(`${base}/health`, { authorization: `Bearer ${KEY}` })).text).backends.length, 2);

    const tries: Array<Record<string, string>> = [
      {},
      { 'x-api-key': 'not-a-configured-key-at-all' },
      { authorization: 'Bearer not-a-configured-key-at-all' },
      { authorization: 'Basic b3BzOnB3' },
    ];
    for (const headers of tries) {
      const anon = await get(`${base}/health`, headers);
      assert.equal(anon.status, 503, JSON.stringify(headers));
      assert.deepEqual(JSON.parse(anon.text), { status: 'degraded' }, JSON.stringify(headers));
      assert.equal(anon.challenge, null, 'a probe is answered, not challenged');
      assertNoDetail(anon.text, `/health with ${JSON.stringify(headers)}`);
    }
  });

  it('GET /health/ready: the required backends not up are named to an authenticated caller only; /health/live is unchanged', async () => {
    const full = await get(`${base}/health/ready`, { 'x-api-key': KEY });
    assert.equal(full.status, 503);
    assert.deepEqual(JSON.parse(full.text), { status: 'not_ready', waitingFor: ['internal_billing'] });
    const tries: Array<Record<string, string>> = [{}, { 'x-api-key': 'not-a-configured-key-at-all' }];
    for (const headers of tries) {
      const anon = await get(`${base}/health/ready`, headers);
      assert.equal(anon.status, 503);
      assert.deepEqual(JSON.parse(anon.text), { status: 'not_ready' });
      assertNoDetail(anon.text, '/health/ready');
    }
    const live = await get(`${base}/health/live`);
    assert.equal(live.status, 200);
    assert.deepEqual(JSON.parse(live.text), { status: 'ok' });
  });

  it('GET /metrics: 401 with the MCP endpoint challenge without a valid credential; the series with a key', async () => {
    const mcp = await fetch(`${base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    await mcp.text();
    const anon = await get(`${base}/metrics`);
    assert.equal(anon.status, 401);
    assert.equal(anon.challenge, mcp.headers.get('www-authenticate'));
    assert.equal(anon.challenge, 'Bearer realm="mcpeg"');
    assert.equal((JSON.parse(anon.text) as { error: { data: { mcpegCode: string } } }).error.data.mcpegCode, 'MCPEG_ERR_UNAUTHENTICATED');
    assertNoDetail(anon.text, '/metrics');
    const bad = await get(`${base}/metrics`, { 'x-api-key': 'not-a-configured-key-at-all' });
    assert.equal(bad.status, 401);
    assert.match(bad.challenge!, /^Bearer error="invalid_token"/);
    assertNoDetail(bad.text, '/metrics with a bad key');
    const keys: Array<Record<string, string>> = [{ 'x-api-key': KEY }, { authorization: `Bearer ${KEY}` }];
    for (const headers of keys) {
      const ok = await get(`${base}/metrics`, headers);
      assert.equal(ok.status, 200);
      assert.match(ok.text, /^mcpeg_backend_up\{backend="internal_billing"\} 0$/m);
    }
  });
});

describe('review 31: what stays as it was', () => {
  it('auth.public_metrics: true serves /metrics to anyone; /health stays summed up', async () => {
    const rec = await startMcpRecorder();
    cleanups.push(() => rec.close());
    const { base } = await spawnWith({ auth: { ...AUTH, public_metrics: true }, backends: { crm_public: { type: 'mcp', url: rec.mcpUrl } } });
    const m = await get(`${base}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.text, /^mcpeg_backend_up\{backend="crm_public"\} 1$/m);
    const h = await get(`${base}/health`);
    assert.equal(h.status, 200);
    assert.deepEqual(JSON.parse(h.text), { status: 'ok' });
  });

  it('without auth (a loopback gateway) /health, /health/ready and /metrics answer everything to everyone', async () => {
    const rec = await startMcpRecorder();
    cleanups.push(() => rec.close());
    const gw = await startGateway({ backends: { crm_public: { type: 'mcp', url: rec.mcpUrl } } });
    cleanups.push(() => gw.close());
    const h = JSON.parse((await get(`${gw.base}/health`)).text) as { backends: Array<{ name: string }> };
    assert.deepEqual(
      h.backends.map((b) => b.name),
      ['crm_public'],
    );
    assert.equal((await get(`${gw.base}/health/ready`)).status, 200);
    const m = await get(`${gw.base}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.text, /mcpeg_backend_up\{backend="crm_public"\} 1/);
  });
});
