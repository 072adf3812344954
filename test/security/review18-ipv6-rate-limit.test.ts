/**
 * Attack: a client with an IPv6 /64 (what one host usually holds; rotating within it is free)
 * sends each request from another address of it. Rate limit rules keyed by `ip` gave every
 * address a bucket of its own, so such a client was never limited: a gateway-scope limit of 5
 * requests per address let 40 initializes through (the limit that stands before token
 * checking), and a backend-scope limit of 3 calls per address let 12 calls through from 12
 * sessions. `max_sessions_per_client` already counted an IPv6 /64 as one client; now rate
 * limit buckets do too. Performed against a real `mcpeg gateway` process behind a trusted
 * proxy (X-Forwarded-For), as the addresses of one /64 reach it there.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MCP_HEADERS, spawnGateway } from '../helpers/gateway.js';

const BACKEND = `
import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize')
    send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'echo', version: '1' } } });
  else if (m.method === 'tools/list') send({ id: m.id, result: { tools: [{ name: 'echo', inputSchema: { type: 'object' } }] } });
  else if (m.method === 'tools/call') send({ id: m.id, result: { content: [{ type: 'text', text: 'echoed' }] } });
  else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });
});
`;

const INITIALIZE = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'rotating', version: '1' } } };

describe('review 18: rate limits keyed by ip and an IPv6 /64', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-review18-ipv6-'));
  const procs: ChildProcess[] = [];
  after(() => {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const backend = join(dir, 'backend.mjs');
  writeFileSync(backend, BACKEND);

  async function gateway(name: string, rule: Record<string, unknown>): Promise<string> {
    const config = join(dir, `${name}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        rate_limits: { trusted_proxies: ['127.0.0.1'], rules: [rule] },
        backends: { b: { type: 'mcp', command: process.execPath, args: [backend] } },
      }),
    );
    const g = await spawnGateway(config);
    procs.push(g.proc);
    return g.url;
  }

  const initialize = (url: string, from: string) => fetch(url, { method: 'POST', headers: { ...MCP_HEADERS, 'x-forwarded-for': from }, body: JSON.stringify(INITIALIZE) });

  it('gateway scope: one /64 shares one bucket, another /64 and an IPv4 client keep theirs', async () => {
    const url = await gateway('gateway-scope', { scope: 'gateway', key: 'ip', rate: 0.01, burst: 5 });
    const statuses: number[] = [];
    for (let i = 1; i <= 40; i++) {
      const res = await initialize(url, `2001:db8:1:2::${i.toString(16)}`);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    const served = statuses.filter((s) => s === 200).length;
    const limited = statuses.filter((s) => s === 429).length;
    assert.equal(served, 5, `40 initializes from 40 addresses of one /64: ${served} served, ${limited} limited (every address had its own bucket)`);
    assert.equal(limited, 35);
    // Written another way, the same /64 is the same client.
    const same = await initialize(url, '2001:0db8:0001:0002:ffff:0:0:1');
    await same.arrayBuffer();
    assert.equal(same.status, 429);
    for (const other of ['2001:db8:1:3::1', '198.51.100.7']) {
      const res = await initialize(url, other);
      await res.arrayBuffer();
      assert.equal(res.status, 200, `${other} is another client`);
    }
  });

  it('backend scope: calls from sessions of one /64 share one bucket', async () => {
    const url = await gateway('backend-scope', { scope: 'backend', match: 'b', key: 'ip', rate: 0.01, burst: 3 });
    let served = 0;
    let limited = 0;
    for (let i = 1; i <= 12; i++) {
      const from = `2001:db8:5:6:${i.toString(16)}::1`;
      const init = await initialize(url, from);
      assert.equal(init.status, 200);
      await init.arrayBuffer();
      const headers = { ...MCP_HEADERS, 'x-forwarded-for': from, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
      await (await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).arrayBuffer();
      const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'b__echo', arguments: {} } }) });
      const body = (await res.json()) as { result?: unknown; error?: { data?: { mcpegCode?: string } } };
      if (body.result !== undefined) served++;
      else if (body.error?.data?.mcpegCode === 'MCPEG_ERR_RATE_LIMITED') limited++;
      else assert.fail(`unexpected answer: ${JSON.stringify(body)}`);
    }
    assert.equal(served, 3, `12 calls from 12 addresses of one /64: ${served} served, ${limited} limited (every address had its own bucket)`);
    assert.equal(limited, 9);
    const other = await initialize(url, '2001:db8:5:7::1');
    assert.equal(other.status, 200);
    await other.arrayBuffer();
  });
});
