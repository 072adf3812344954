/**
 * state.store: redis — attack: with several instances, a session used on an instance that
 * did not open it is rebuilt there from its record, which kept neither the client's address
 * nor its API key: every such session fell into the one bucket of address `unknown` for
 * `ip`- and `api_key`-keyed backend and tool rules, across all instances (the buckets are in
 * Redis). One client spending that bucket refused every other client's calls made through
 * another instance. The record now keeps the address and the API key's hash from initialize.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import { serve } from '../../src/serve.js';
import { everythingStdio, MCP_HEADERS } from '../helpers/gateway.js';
import { REDIS_URL, redisPrefix } from '../helpers/redis.js';

describe('state.store: redis — limits of sessions rebuilt on another instance', { timeout: 60_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('keeps each client in its own api_key bucket on an instance that rebuilt its session', async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const rate_limits = { rules: [{ scope: 'tool', match: 'everything__echo', key: 'api_key', rate: 1 / 60, burst: 2 }] };
    const instance = async () => {
      const cfg = validateConfig(
        {
          server: { host: '127.0.0.1', port: 0 },
          state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } },
          backends: { everything: everythingStdio() },
          rate_limits,
        },
        'test',
      );
      const s = await serve(cfg, { logger: silentLogger() });
      cleanups.push(() => s.close());
      return s;
    };
    const [opener, other] = [await instance(), await instance()];
    /** A session opened on `opener` with API key `key`; its calls go to `other`. */
    const session = async (key: string) => {
      const init = await fetch(opener.url, {
        method: 'POST',
        headers: { ...MCP_HEADERS, 'x-api-key': key },
        body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: key, version: '1' } } }),
      });
      assert.equal(init.status, 200);
      const headers = { ...MCP_HEADERS, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25', 'x-api-key': key };
      await fetch(opener.url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
      let id = 1;
      return async () => {
        const r = await fetch(other.url, {
          method: 'POST',
          headers,
          body: JSON.stringify({ jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: key } } }),
        });
        // JSON, or SSE when the backend sends something about the call first: the answer is the event with a result or an error.
        const text = await r.text();
        const messages = (r.headers.get('content-type') ?? '').startsWith('text/event-stream')
          ? text
              .split('\n')
              .filter((l) => l.startsWith('data: ') && l.length > 6)
              .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>)
          : [JSON.parse(text) as Record<string, unknown>];
        const body = messages.find((m) => 'result' in m || 'error' in m) as { result?: unknown; error?: { code: number } };
        return body.result ? 'ok' : String(body.error?.code);
      };
    };
    const attacker = await session('key-of-the-attacker');
    const victim = await session('key-of-the-victim');
    assert.deepEqual([await attacker(), await attacker(), await attacker()], ['ok', 'ok', '-32029'], "the attacker's own bucket runs out");
    assert.equal(await victim(), 'ok', "the victim's calls are counted in its own bucket, not the attacker's");
  });
});
