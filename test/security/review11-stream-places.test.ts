/**
 * Review 11 (untrusted MCP clients against the legacy HTTP+SSE transport): a legacy SSE
 * stream holds a place for a session from its GET, before it initializes, and was bounded
 * only by `server.max_sessions` on each endpoint alone. So:
 * - with `server.max_sessions_per_client` set (its whole point: one client address cannot
 *   take every session), one address opened `max_sessions` streams on `/sse` and never
 *   initialized them; every other client's legacy GET was then refused (503) for as long
 *   as the attacker kept its connections (an open stream never yields);
 * - each backend's own endpoint (`/servers/<name>/sse`) counted apart, so streams held
 *   were `max_sessions` times the number of endpoints.
 * Streams are now counted once for the gateway, in total and per client address, by the
 * same two settings as sessions.
 *
 * The same held for `subscriptions/listen` streams of 2026-07-28 clients (no session, never
 * idle): bounded only by `max_sessions` in all, one address could hold every one of them.
 * They are now held to `max_sessions_per_client` as well (src/protocol/stream-places.ts).
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { startGateway } from '../helpers/gateway.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));
const abuse = { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } };

describe('review 11: legacy SSE streams that never initialize are bounded per client and across endpoints', { timeout: 60_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  /** Every stream a test opens is dropped at its end, passed or failed. */
  const controllers: AbortController[] = [];
  const controller = () => {
    const c = new AbortController();
    controllers.push(c);
    return c;
  };
  const stop = async () => {
    for (const c of controllers.splice(0)) c.abort();
    await gw?.close();
    gw = undefined;
  };
  afterEach(stop);
  after(stop);

  /** GET on a legacy SSE endpoint from `from` (X-Forwarded-For, through a trusted proxy); a 200 stream is kept open, never initialized. */
  const open = async (path: string, from: string, signal: AbortSignal): Promise<number> => {
    const res = await fetch(`${gw!.base}${path}`, { headers: { accept: 'text/event-stream', 'x-forwarded-for': from }, signal });
    if (res.status !== 200) await res.text();
    return res.status;
  };

  it('max_sessions_per_client 2: one address holding max_sessions streams no longer locks every other legacy client out', async () => {
    gw = await startGateway({ server: { max_sessions: 4, max_sessions_per_client: 2 }, rate_limits: { trusted_proxies: ['127.0.0.1'] }, backends: abuse });
    const { signal } = controller();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await open('/sse', '203.0.113.7', signal));
    for (let i = 0; i < 4; i++) statuses.push(await open('/servers/abuse/sse', '203.0.113.7', signal));
    const opened = statuses.filter((s) => s === 200).length;
    assert.equal(opened, 2, `the attacker held ${opened} legacy streams (statuses ${statuses.join(',')}); its share is 2`);
    assert.ok(
      statuses.every((s) => s === 200 || s === 503),
      statuses.join(','),
    );

    // Another client address still gets a stream, a session and an answer, through the official SDK client.
    const client = new Client({ name: 'bystander', version: '1' });
    const headers = { 'x-forwarded-for': '198.51.100.9' };
    await client.connect(
      new SSEClientTransport(new URL(`${gw.base}/sse`), {
        requestInit: { headers },
        eventSourceInit: { fetch: (url, init) => fetch(url, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) },
      }),
    );
    const { tools } = await client.listTools();
    assert.ok(tools.length > 0);
    await client.close();
  });

  /** A subscriptions/listen POST (2026-07-28) from `from`; a 200 stream is kept open. */
  const listen = async (from: string, signal: AbortSignal): Promise<{ status: number; code?: number }> => {
    const body = {
      jsonrpc: '2.0',
      id: 1,
      method: 'subscriptions/listen',
      params: {
        notifications: { toolsListChanged: true },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
          'io.modelcontextprotocol/clientInfo': { name: 'listener', version: '1' },
        },
      },
    };
    const res = await fetch(gw!.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'subscriptions/listen',
        'x-forwarded-for': from,
      },
      body: JSON.stringify(body),
      signal,
    });
    if (res.status === 200) return { status: 200 };
    const answer = (await res.json()) as { error?: { code: number } };
    return { status: res.status, code: answer.error?.code };
  };

  it('max_sessions_per_client 2: one address holds at most 2 subscriptions/listen streams; another address still gets one', async () => {
    gw = await startGateway({ server: { max_sessions: 10, max_sessions_per_client: 2 }, rate_limits: { trusted_proxies: ['127.0.0.1'] }, backends: abuse });
    const { signal } = controller();
    const answers: Array<{ status: number; code?: number }> = [];
    for (let i = 0; i < 4; i++) answers.push(await listen('203.0.113.7', signal));
    const held = answers.filter((a) => a.status === 200).length;
    assert.equal(held, 2, `the attacker held ${held} listen streams (${JSON.stringify(answers)}); its share is 2`);
    for (const a of answers.filter((x) => x.status !== 200)) assert.deepEqual(a, { status: 503, code: -32015 }, 'refused as a session past the limit');
    // Another address gets one.
    assert.equal((await listen('198.51.100.9', signal)).status, 200);
    // The attacker's IPv6 /64 is one client: rotating the address within it gains nothing.
    const six = controller();
    const v6: number[] = [];
    for (let i = 1; i <= 3; i++) v6.push((await listen(`2001:db8:1:2::${i}`, six.signal)).status);
    assert.deepEqual(v6.sort(), [200, 200, 503]);
  });

  it('max_sessions 2: streams on the aggregate endpoint and a backend endpoint count together', async () => {
    gw = await startGateway({ server: { max_sessions: 2 }, rate_limits: { trusted_proxies: ['127.0.0.1'] }, backends: abuse });
    const ctl = controller();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push(await open('/sse', `192.0.2.${i + 1}`, ctl.signal));
    for (let i = 0; i < 3; i++) statuses.push(await open('/servers/abuse/sse', `192.0.2.${i + 10}`, ctl.signal));
    const opened = statuses.filter((s) => s === 200).length;
    assert.equal(opened, 2, `${opened} legacy streams were held with max_sessions 2 (statuses ${statuses.join(',')})`);
    // A closed stream gives its place back.
    ctl.abort();
    const again = controller();
    assert.equal(
      await (async () => {
        for (let i = 0; i < 50; i++) {
          const s = await open('/servers/abuse/sse', '192.0.2.99', again.signal);
          if (s === 200) return s;
          await new Promise((r) => setTimeout(r, 50));
        }
        return 503;
      })(),
      200,
    );
  });
});
