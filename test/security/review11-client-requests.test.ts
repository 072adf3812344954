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
 * larger request still passes alone), one backend at most 16 of them and 4 MiB; the rest are
 * answered at once with -32016 (bound `client_requests`), and the client can still answer
 * what it was sent.
 * Here a real Streamable HTTP backend (node:http), configured as five backends, answers a
 * tools/call with an SSE stream of sampling requests; a real SDK client declaring `sampling`
 * never answers them.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { CLI, connectClient, startGateway, textOf, waitFor } from '../helpers/gateway.js';

const ASKING = fileURLToPath(new URL('../fixtures/asking-server.js', import.meta.url));

interface Answer {
  id: unknown;
  error?: { code: number; data?: { bound?: string; share?: string } };
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
  /** Five backends on the one hostile server: one session can then be flooded past a backend's share. */
  const NAMES = ['h1', 'h2', 'h3', 'h4', 'h5'];
  before(async () => {
    await new Promise<void>((r) => host.server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(host.server.address() as AddressInfo).port}/mcp`;
    gw = await startGateway({ backends: Object.fromEntries(NAMES.map((n) => [n, { type: 'mcp', url, protocol: 'stateful', timeout: '60s' }])) });
  });
  after(async () => {
    await gw?.close();
    host.server.closeAllConnections();
    host.server.close();
  });

  /**
   * A client declaring sampling whose handler never answers (a person who never approves) calls the flood tool of
   * each of `backends`; resolves when every request was either handed to the client or refused to its backend.
   */
  async function flood(backends: string[], n: number, bytes: number): Promise<{ seen: number; refused: number; shares: Set<unknown> }> {
    const before = host.answers.length;
    const client = await connectClient(gw.url, { capabilities: { sampling: {} } });
    let seen = 0;
    client.setRequestHandler(CreateMessageRequestSchema, () => {
      seen++;
      return new Promise(() => {});
    });
    const refusals = () => host.answers.slice(before).filter((a) => a.error?.code === -32016 && a.error.data?.bound === 'client_requests');
    for (const b of backends) void client.callTool({ name: `${b}__flood`, arguments: { n, bytes } }, undefined, { timeout: 60_000 }).catch(() => {});
    const all = n * backends.length;
    try {
      await waitFor(
        () => seen + refusals().length >= all,
        `the client to see or the backends to be refused all ${all} requests (seen ${seen}, refused ${refusals().length})`,
        30_000,
      );
      return { seen, refused: refusals().length, shares: new Set(refusals().map((a) => a.error?.data?.share)) };
    } finally {
      await client.close();
    }
  }

  /** The params' length as JSON text of one flood request with `bytes` of text (what the budget counts). */
  const sizeOf = (bytes: number) => JSON.stringify({ messages: [{ role: 'user', content: { type: 'text', text: 'x'.repeat(bytes) } }], maxTokens: 1 }).length;

  it('holds at most 16 requests per backend and 64 per client session; the rest are refused at once', async () => {
    const one = await flood(['h1'], 200, 1000);
    assert.equal(one.seen, 16, "the client session held one backend's 16, no more");
    assert.equal(one.refused, 200 - 16);
    assert.deepEqual([...one.shares], ['per_backend']);
    const five = await flood(NAMES, 30, 1000);
    assert.equal(five.seen, 64, 'the client session held 64 from five backends, no more');
    assert.equal(five.refused, 150 - 64);
    assert.ok(five.shares.has('per_session'), 'past 64 the session bound refuses');
  });

  it('holds at most 4 MiB of their params per backend and 16 MiB per client session', async () => {
    const one = await flood(['h1'], 48, 1024 * 1024);
    assert.equal(one.seen, Math.floor((4 * 1024 * 1024) / sizeOf(1024 * 1024)), "the client session held one backend's 4 MiB of requests, no more");
    assert.equal(one.refused, 48 - one.seen);
    const bytes = 900 * 1024;
    const five = await flood(NAMES, 8, bytes);
    const perBackend = Math.floor((4 * 1024 * 1024) / sizeOf(bytes));
    assert.ok(perBackend * 5 * sizeOf(bytes) > 16 * 1024 * 1024, 'the test fills the session past its 16 MiB');
    assert.equal(five.seen, Math.floor((16 * 1024 * 1024) / sizeOf(bytes)), 'the client session held 16 MiB of requests from five backends, no more');
    assert.equal(five.refused, 40 - five.seen);
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
    const call = (n: number) => void client.callTool({ name: 'h1__flood', arguments: { n, bytes: 100 } }, undefined, { timeout: 60_000 }).catch(() => {});
    const answered = () => host.answers.slice(before).filter((a) => a.error === undefined).length;
    const refused = () => host.answers.slice(before).filter((a) => a.error?.code === -32016).length;
    call(100);
    await waitFor(() => seen + refused() >= 100, 'the first flood to be seen or refused', 30_000);
    assert.equal(seen, 16);
    for (const r of held.splice(0)) r();
    await waitFor(() => answered() === 16, `the client's 16 answers to reach the backend (got ${answered()})`, 15_000);
    call(10);
    await waitFor(() => seen === 26, `the next 10 requests to reach the client (seen ${seen - 16})`, 15_000);
    assert.equal(refused(), 84);
    for (const r of held.splice(0)) r();
    await client.close();
  });
});

/**
 * Attack: one backend takes all of a session's room for requests to its client. Backends
 * are untrusted and a client session aggregates several: backend X sends the client 64
 * elicitation/create requests (its handler waits for a person, who does not answer soon)
 * and never cancels them. The session's 64 were shared by all its backends, so every request
 * backend Y then sent the client (the sampling its tool needs) was refused (-32016,
 * `client_requests`) until the person answered X's 64: one backend denied the others a
 * capability of the shared client. Now one backend (all its replicas together) holds at
 * most 16 of the 64 and 4 MiB of the 16 MiB; past its share it alone is refused.
 * Two real SDK backends (stdio children) behind a real `mcpeg gateway` process; a real SDK
 * client whose elicitation handler never answers.
 */
describe("review11: one backend holding all of a session's room for requests to its client", () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-client-shares-'));
  let proc: ChildProcess | undefined;
  let url = '';
  before(async () => {
    const file = join(dir, 'gateway.json');
    const asking = { type: 'mcp', command: process.execPath, args: [ASKING], timeout: '60s' };
    writeFileSync(file, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, logging: { level: 'warn' }, backends: { x: asking, y: asking } }));
    const child = spawn(process.execPath, [CLI, 'gateway', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc = child;
    let err = '';
    url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        err += String(d);
        const m = /mcpeg listening on (http:\/\/\S+)/.exec(err);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`mcpeg exited with ${code}: ${err}`)));
    });
  });
  after(() => {
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it("backend X's 64 unanswered elicitations leave backend Y room: Y's sampling reaches the client and its tool completes", async () => {
    const client = await connectClient(url, { capabilities: { elicitation: {}, sampling: {} } });
    let asked = 0;
    client.setRequestHandler(ElicitRequestSchema, () => {
      asked++;
      return new Promise(() => {}); // a person who does not answer
    });
    client.setRequestHandler(CreateMessageRequestSchema, (req) => {
      const content = req.params.messages[0]?.content;
      const text = content && 'text' in content ? content.text : '';
      return { role: 'assistant' as const, content: { type: 'text' as const, text: `answered: ${text}` }, model: 'm' };
    });
    try {
      // X asks 64 at once (the session's whole room) and waits until the 48 past its share are refused (10 s at most).
      const x = (await client.callTool({ name: 'x__ask_person', arguments: { n: 64, refusals: 48 } }, undefined, { timeout: 60_000 })) as {
        structuredContent?: { refused?: number; error?: { code?: number; data?: Record<string, unknown> } };
      };
      await waitFor(() => asked >= 16, `X's requests to reach the client (seen ${asked})`, 15_000);
      // X's requests still wait for the person; Y's sampling must still get through.
      const y = await client.callTool({ name: 'y__sample', arguments: { prompt: 'hello' } }, undefined, { timeout: 30_000 });
      assert.equal(textOf(y), 'answered: hello', `Y's tool, while X holds its requests: ${JSON.stringify(y)}`);
      assert.equal(asked, 16, "the client was sent X's share, no more");
      assert.equal(x.structuredContent?.refused, 48);
      assert.equal(x.structuredContent?.error?.code, -32016);
      assert.deepEqual({ ...x.structuredContent?.error?.data }, { ...x.structuredContent?.error?.data, bound: 'client_requests', share: 'per_backend', backend: 'x', limit: 16 });
    } finally {
      await client.close();
    }
  });
});
