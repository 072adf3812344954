/**
 * Review 29a: rate limits keyed on `api_key` read the key from `rate_limits.api_key_header`,
 * authentication from `auth.api_key_header`. With the two different, an authenticated
 * client sent its real key in the header authentication reads and any value in the one the
 * rate limits read: a new value per request, a new full bucket per request, and no
 * `api_key` rule held it (a principal of the lowest privilege made as many calls as it
 * liked). Such a config is now refused, naming the key; with both the same header, the
 * bucket is the key that authenticated, and a made-up value in it is a 401.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { MCP_HEADERS, startGateway } from '../helpers/gateway.js';
import { startMcpRecorder } from '../helpers/mcp-recorder.js';

const KEY = 'low-privilege-key-0123456789';
const BURST = 3;
const ATTEMPTS = 10;

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'low', version: '1' } },
});

function config(backendUrl: string, authHeader: string, limitHeader: string) {
  return {
    auth: { api_key_header: authHeader, api_keys: [{ name: 'low', key: KEY }] },
    rate_limits: { api_key_header: limitHeader, rules: [{ scope: 'gateway', key: 'api_key', rate: 0.001, burst: BURST }] },
    backends: { rec: { type: 'mcp', url: backendUrl } },
  };
}

/** ATTEMPTS initializes with the real key in `authHeader` and a fresh value in `limitHeader` each: the statuses. */
async function attack(url: string, authHeader: string, limitHeader: string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < ATTEMPTS; i++) {
    const headers: Record<string, string> = { ...MCP_HEADERS, [authHeader]: KEY };
    if (limitHeader !== authHeader) headers[limitHeader] = randomUUID();
    const res = await fetch(url, { method: 'POST', headers, body: INIT });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

describe('security (review 29a): an authenticated client cannot choose its api_key rate-limit bucket', () => {
  it('a config whose rate limits read the key from another header than authentication is refused', async () => {
    const backend = await startMcpRecorder();
    cleanups.push(() => backend.close());
    let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
    let refusal: Error | undefined;
    try {
      gw = await startGateway(config(backend.mcpUrl, 'x-mcp-key', 'x-api-key'));
    } catch (err) {
      refusal = err as Error;
    }
    if (gw) {
      // Accepted: the attack, whose outcome is the failure's message.
      cleanups.push(() => gw.close());
      const statuses = await attack(gw.url, 'x-mcp-key', 'x-api-key');
      const served = statuses.filter((s) => s === 200).length;
      assert.ok(served <= BURST, `the config was accepted and the rate limit did not hold: ${served} of ${ATTEMPTS} initializes served (burst ${BURST}), a fresh x-api-key each`);
    }
    assert.match(refusal?.message ?? '', /rate_limits\.api_key_header[\s\S]*x-mcp-key[\s\S]*auth\.api_key_header/);
  });

  it('with one header for both, the bucket is the key that authenticated, and a made-up one is refused', async () => {
    const backend = await startMcpRecorder();
    cleanups.push(() => backend.close());
    const gw = await startGateway(config(backend.mcpUrl, 'x-mcp-key', 'X-MCP-Key'));
    cleanups.push(() => gw.close());
    const statuses = await attack(gw.url, 'x-mcp-key', 'x-mcp-key');
    assert.deepEqual(statuses, [...Array(BURST).fill(200), ...Array(ATTEMPTS - BURST).fill(429)]);
    const madeUp = await fetch(gw.url, { method: 'POST', headers: { ...MCP_HEADERS, 'x-mcp-key': randomUUID() }, body: INIT });
    await madeUp.arrayBuffer();
    assert.equal(madeUp.status, 401, 'another value in the header is no key: refused after its own bucket');
  });
});
