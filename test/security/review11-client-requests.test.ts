/**
 * Attack: a backend floods a client with requests (sampling/createMessage) and the gateway
 * holds every one until the client answers.
 *
 * A backend's request to the client waits in the client's session until the client answers
 * it (or the backend cancels it, or the session ends), with the request's params held twice
 * (the session's waiting entry and the backend connection's frame). Nothing bounded how many
 * waited or their size: a client whose sampling or elicitation handler waits for a person
 * (every real one does) reads each request as it comes, and the gateway held them all: here
 * 200 requests, then 48 of 1 MiB; at 64 MiB a message, 100 of them are 6.4 GB for one
 * session. Now one session holds at most 64 such requests and 16 MiB of their params (one
 * larger request still passes alone); the rest are answered at once with -32016 (bound
 * `client_requests`), and the client can still answer what it was sent.
 * Here a real Streamable HTTP backend (node:http) answers a tools/call with an SSE stream of
 * sampling requests; a real SDK client declaring `sampling` never answers them.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, startGateway, waitFor } from '../helpers/gateway.js';

interface Answer {
  id: unknown;
  error?: { code: number; data?: { bound?: string } };
}

/** Tool `flood_<n>_<bytes>`: n sampling requests of `bytes` of text each, on the call's SSE answer, which then stays open. */
function hostile(): { server: Server; answers: Answer[] } {
  const answers: Answer[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const m = JSON.parse(body) as { id?: unknown; method?: string; params?: { name?: string }; error?: Answer['error'] };
      if (m.method === undefined) {
        // The gateway's answer to one of our requests.
        answers.push({ id: m.id, ...(m.error ? { error: m.error } : {}) });
        return void res.writeHead(202).end();
      }
      if (m.id === undefined) return void res.writeHead(202).end();
      const reply = (r: unknown, w: ServerResponse = res) =>
        w.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: r }));
      if (m.method === 'initialize') return reply({ protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'h', version: '1' } });
      if (m.method === 'tools/list')
        return reply({ tools: [{ name: 'flood', inputSchema: { type: 'object', properties: { n: { type: 'number' }, bytes: { type: 'number' } } } }] });
      if (m.method === 'tools/call') {
        const args = (m.params as { arguments?: { n?: number; bytes?: number } }).arguments ?? {};
        const text = 'x'.repeat(args.bytes ?? 10);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 's1' });
        for (let i = 0; i < (args.n ?? 1); i++) {
          const ask = {
            jsonrpc: '2.0',
            id: `s${m.id}-${i}`,
            method: 'sampling/createMessage',
            params: { messages: [{ role: 'user', content: { type: 'text', text } }], maxTokens: 1 },
          };
          res.write(`data: ${JSON.stringify(ask)}\n\n`);
        }
        return; // the call is never answered: the stream stays open
      }
      reply({});
    });
  });
  return { server, answers };
}

describe('review11: a backend flooding a client with requests it holds until answered', () => {
  const host = hostile();
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    await new Promise<void>((r) => host.server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(host.server.address() as AddressInfo).port}/mcp`;
    gw = await startGateway({ backends: { h: { type: 'mcp', url, protocol: 'stateful', timeout: '60s' } } });
  });
  after(async () => {
    await gw?.close();
    host.server.closeAllConnections();
    host.server.close();
  });

  /**
   * A client declaring sampling whose handler never answers (a person who never approves) calls the flood tool;
   * resolves when every request was either handed to the client or refused to the backend.
   */
  async function flood(n: number, bytes: number): Promise<{ seen: number; refused: number }> {
    const before = host.answers.length;
    const client = await connectClient(gw.url, { capabilities: { sampling: {} } });
    let seen = 0;
    client.setRequestHandler(CreateMessageRequestSchema, () => {
      seen++;
      return new Promise(() => {});
    });
    const refused = () => host.answers.slice(before).filter((a) => a.error?.code === -32016 && a.error.data?.bound === 'client_requests').length;
    void client.callTool({ name: 'h__flood', arguments: { n, bytes } }, undefined, { timeout: 60_000 }).catch(() => {});
    try {
      await waitFor(() => seen + refused() >= n, `the client to see or the backend to be refused all ${n} requests (seen ${seen}, refused ${refused()})`, 30_000);
      return { seen, refused: refused() };
    } finally {
      await client.close();
    }
  }

  it('holds at most 64 requests per client session; the rest are refused at once', async () => {
    const { seen, refused } = await flood(200, 1000);
    assert.ok(seen <= 64, `the client session held ${seen} requests waiting at once (bound: 64)`);
    assert.ok(seen >= 32, `a client still gets requests up to the bound (got ${seen})`);
    assert.equal(refused, 200 - seen);
  });

  it('holds at most 16 MiB of their params per client session', async () => {
    const { seen, refused } = await flood(48, 1024 * 1024);
    assert.ok(seen <= 16, `the client session held ${seen} requests of 1 MiB waiting at once (bound: 16 MiB)`);
    assert.ok(seen >= 8, `a client still gets requests up to the bound (got ${seen})`);
    assert.equal(refused, 48 - seen);
  });

  it('frees its room as the client answers: answered requests reach the backend, and new ones reach the client', async () => {
    const held: Array<() => void> = [];
    const before = host.answers.length;
    const client = await connectClient(gw.url, { capabilities: { sampling: {} } });
    let seen = 0;
    client.setRequestHandler(CreateMessageRequestSchema, async () => {
      seen++;
      await new Promise<void>((r) => held.push(r));
      return { role: 'assistant' as const, content: { type: 'text' as const, text: 'ok' }, model: 'm' };
    });
    const call = (n: number) => void client.callTool({ name: 'h__flood', arguments: { n, bytes: 100 } }, undefined, { timeout: 60_000 }).catch(() => {});
    const answered = () => host.answers.slice(before).filter((a) => a.error === undefined).length;
    const refused = () => host.answers.slice(before).filter((a) => a.error?.code === -32016).length;
    call(100);
    await waitFor(() => seen + refused() >= 100, 'the first flood to be seen or refused', 30_000);
    assert.equal(seen, 64);
    for (const r of held.splice(0)) r();
    await waitFor(() => answered() === 64, `the client's 64 answers to reach the backend (got ${answered()})`, 15_000);
    call(10);
    await waitFor(() => seen === 74, `the next 10 requests to reach the client (seen ${seen - 64})`, 15_000);
    assert.equal(refused(), 36);
    for (const r of held.splice(0)) r();
    await client.close();
  });
});
