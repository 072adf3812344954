/**
 * Health endpoints: /health/live, /health/ready (required backends), /health with a REST
 * backend's own health check (health_check.path), and the drain refusing new sessions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectClient, freePort, startGateway, waitFor } from '../helpers/gateway.js';
import { startRecorder } from '../helpers/http-recorder.js';

const restTool = { method: 'GET', path: '/ping' };

describe('health endpoints', () => {
  it('/health/ready waits for required backends; optional ones do not hold it back', async () => {
    const api = await startRecorder();
    const closed = await freePort();
    const gw = await startGateway({
      backends: {
        must: { type: 'rest', base_url: api.url, required: true, tools: { t: restTool } },
        nice: { type: 'mcp', url: `http://127.0.0.1:${closed}/mcp`, restart: { initial_delay: 60_000 } },
      },
    });
    try {
      assert.equal((await fetch(`${gw.base}/health/live`)).status, 200);
      const ready = await fetch(`${gw.base}/health/ready`);
      assert.equal(ready.status, 200, 'the required backend is up; the optional one being down does not matter');
      assert.equal(((await ready.json()) as { status: string }).status, 'ready');
      assert.equal((await fetch(`${gw.base}/health`)).status, 503, '/health reports the optional backend down');
    } finally {
      await gw.close();
      await api.close();
    }
    const gw2 = await startGateway({ backends: { must: { type: 'mcp', url: `http://127.0.0.1:${closed}/mcp`, required: true, restart: { initial_delay: 60_000 } } } });
    try {
      const r = await fetch(`${gw2.base}/health/ready`);
      assert.equal(r.status, 503);
      assert.deepEqual(((await r.json()) as { waitingFor: string[] }).waitingFor, ['must']);
    } finally {
      await gw2.close();
    }
  });

  it("a REST backend with health_check.path reports the API's own health in /health", async () => {
    const api = await startRecorder();
    let healthy = true;
    api.route('GET', '/healthz', () => ({ status: healthy ? 200 : 503, body: { ok: healthy } }));
    const gw = await startGateway({
      backends: { api: { type: 'rest', base_url: api.url, health_check: { path: '/healthz', interval: '100ms', unhealthy_threshold: 1 }, tools: { t: restTool } } },
    });
    try {
      const state = async () => ((await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ healthy?: boolean; detail?: string }> }).backends[0];
      assert.equal((await state()).healthy, true);
      healthy = false;
      const down = await waitFor(async () => ((await state()).healthy === false ? await state() : undefined), 'the API to be reported unhealthy');
      assert.match(down.detail ?? '', /GET \/healthz answered 503/);
      assert.ok(api.all('/healthz').length >= 2, 'the active check polls the API');
    } finally {
      await gw.close();
      await api.close();
    }
  });

  it('draining refuses new sessions and requests, and lets the in-flight call finish', async () => {
    const api = await startRecorder();
    api.route('GET', '/slow', { body: { done: true }, delayMs: 600 });
    const gw = await startGateway({
      server: { shutdown_timeout: '5s' },
      backends: { api: { type: 'rest', base_url: api.url, tools: { slow: { method: 'GET', path: '/slow' } } } },
    });
    const c = await connectClient(gw.url);
    const slow = c.callTool({ name: 'api__slow', arguments: {} });
    await waitFor(() => api.all('/slow').length > 0, 'the slow call to reach the API');
    const closing = gw.close();
    await new Promise((r) => setTimeout(r, 100));
    const r = await slow;
    assert.deepEqual(r.structuredContent, { done: true }, 'the in-flight call completed');
    await closing;
    await assert.rejects(fetch(gw.url, { method: 'POST', body: '{}' }), 'the listener is closed');
    await api.close();
  });
});
