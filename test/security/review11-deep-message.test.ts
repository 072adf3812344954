/**
 * Attack: a stdio backend writes one message nested too deep to write out again.
 *
 * JSON.parse reads 200,000 nested arrays (400 KB); JSON.stringify overflows the stack on
 * them. A backend's notification is relayed to its client synchronously from the line that
 * carried it, so the RangeError thrown where the gateway wrote it to the client's stream
 * went up through the stdio pipe's 'data' handler, uncaught: one line from a backend ended
 * the `mcpeg gateway` process, and every client's sessions with it. Now a message the
 * gateway cannot relay is dropped, counted and reported (once per connection) as a malformed
 * one, and the call goes on. Here a real stdio child (test/fixtures/deep-message-server.ts)
 * sends a log message and a progress notification of that depth in the middle of a call, to
 * a real SDK client, on its own backend session and on one shared by every client, through a
 * real `mcpeg gateway` process. The same depth in a client's answer to a stdio backend's
 * sampling request failed writing it to the child's stdin, inside an async function nobody
 * awaited: an unhandled rejection, which ends node as well; now the backend gets the error.
 *
 * A result that deep (from a stdio backend or a Streamable HTTP one) answered to a
 * Streamable HTTP client could not be written either: as JSON, the POST failed as a whole
 * (HTTP 500, a -32603 error with id null, which no client ties to its call); in SSE, the
 * stream was cut, the client resumed it and waited out its own timeout. Now the client gets
 * a -32603 error with its request's id, at once, on either answer, in a batch and on the
 * stateless revision too.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { CLI, connectClient, MCP_HEADERS, rawSession, readSse, textOf } from '../helpers/gateway.js';
import { json, startRawMcpBackend, type RawMcpBackend } from '../helpers/raw-mcp-backend.js';

const DEEP = fileURLToPath(new URL('../fixtures/deep-message-server.js', import.meta.url));
const LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));
const DEPTH = 200_000;
const DEEP_RESULT = `{"content":[{"type":"text","text":"deep"}],"structuredContent":{"x":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}}`;
const UNWRITABLE = /could not be written to the client \(RangeError: Maximum call stack size exceeded\)/;

describe('review11: a backend message nested too deep to relay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-review11-'));
  let proc: ChildProcess;
  let url: string;
  let stderr = '';
  let http: RawMcpBackend;
  before(async () => {
    // A Streamable HTTP backend with the same deep_result: JSON, or SSE after a progress notification when the call asked for progress.
    http = await startRawMcpBackend({
      deep_result: (res, id, m) => {
        const result = `{"jsonrpc":"2.0","id":${id},"result":${DEEP_RESULT}}`;
        const token = (m.params as { _meta?: { progressToken?: unknown } } | undefined)?._meta?.progressToken;
        if (token === undefined) return json(res, result);
        const progress = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: 1 } });
        res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`data: ${progress}\n\ndata: ${result}\n\n`);
      },
      plain: (res, id) => json(res, `{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"plain"}]}}`),
    });
    const backend = { type: 'mcp', command: process.execPath, args: [DEEP] };
    const file = join(dir, 'gateway.json');
    writeFileSync(
      file,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        logging: { level: 'warn' },
        backends: {
          own: backend,
          shared: { ...backend, session_mode: 'shared' },
          lite: { type: 'mcp', command: process.execPath, args: [LITE] },
          http: { type: 'mcp', url: http.url },
        },
      }),
    );
    proc = spawn(process.execPath, [CLI, 'gateway', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    url = await new Promise((resolve, reject) => {
      proc.stderr!.on('data', (d: Buffer) => {
        stderr += String(d);
        const m = /mcpeg listening on (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      proc.once('exit', (code) => reject(new Error(`mcpeg exited with ${code}: ${stderr}`)));
    });
  });
  after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await http.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const name of ['own', 'shared']) {
    it(`(${name} backend session) drops the message, answers the call, and the gateway keeps serving`, async () => {
      const client = await connectClient(url);
      try {
        const progress: unknown[] = [];
        const r = await client.callTool({ name: `${name}__deep`, arguments: {} }, undefined, { onprogress: (p) => progress.push(p), timeout: 10_000 }).catch(async (err: Error) => {
          await new Promise((r) => setTimeout(r, 500));
          return assert.fail(`the call failed (${err.message}); gateway exit code ${proc.exitCode}; its log: ${stderr.slice(-2000)}`);
        });
        assert.equal(textOf(r), 'ok');
        assert.deepEqual(progress, [], 'the progress notification that could not be written was dropped');
        assert.equal(proc.exitCode, null, 'the gateway process is still running');
        // Another client, another call.
        const other = await connectClient(url);
        assert.equal(textOf(await other.callTool({ name: `${name}__plain`, arguments: {} })), 'plain');
        await other.close();
      } finally {
        await client.close().catch(() => {});
      }
    });
  }

  it("a client answering a stdio backend's sampling request with a result that deep: the backend gets an error, the gateway keeps serving", async () => {
    // Before, writing that answer to the child's stdin threw inside an async function nobody awaited: an unhandled rejection, which ends node.
    const s = await rawSession(url, '2025-06-18', { sampling: {} });
    const res = await fetch(url, {
      method: 'POST',
      headers: s.headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'lite__ask', arguments: {} } }),
    });
    let said: { said?: unknown; error?: { message?: string } } | undefined;
    for await (const ev of readSse(res)) {
      const m = JSON.parse(ev.data) as { id?: unknown; method?: string; result?: unknown };
      if (m.method === 'sampling/createMessage') {
        const deep = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;
        const body = `{"jsonrpc":"2.0","id":${JSON.stringify(m.id)},"result":{"role":"assistant","model":"m","content":{"type":"text","text":"hi"},"x":${deep}}}`;
        assert.equal((await fetch(url, { method: 'POST', headers: s.headers, body })).status, 202);
      }
      if (m.id === 1) {
        said = JSON.parse(textOf(m.result)) as typeof said;
        break;
      }
    }
    assert.equal(said?.said, null);
    assert.match(String(said?.error?.message), /Maximum call stack size exceeded/);
    assert.equal(proc.exitCode, null, 'the gateway process is still running');
    const other = await connectClient(url);
    assert.equal(textOf(await other.callTool({ name: 'own__plain', arguments: {} })), 'plain');
    await other.close();
  });

  for (const name of ['own', 'http']) {
    for (const sse of [false, true]) {
      it(`a result that deep from ${name === 'own' ? 'a stdio' : 'a Streamable HTTP'} backend to a Streamable HTTP client, answered ${sse ? 'in SSE' : 'as JSON'}: an error answer with its id, at once`, async () => {
        // Before: as JSON, HTTP 500 with id null (the SDK's StreamableHTTPError, no answer to the call); in SSE, a cut stream the client resumed and waited on.
        const client = await connectClient(url);
        try {
          const progress: unknown[] = [];
          const started = Date.now();
          const options = sse ? { timeout: 10_000, onprogress: (p: unknown) => void progress.push(p) } : { timeout: 10_000 };
          const err = await client.callTool({ name: `${name}__deep_result`, arguments: {} }, undefined, options).then(
            () => undefined,
            (e: unknown) => e,
          );
          assert.ok(err instanceof McpError, `an error answer to the call, not ${String(err)}; gateway exit code ${proc.exitCode}`);
          assert.equal(err.code, -32603);
          assert.match(err.message, UNWRITABLE);
          assert.ok(Date.now() - started < 5_000, `answered at once, not after ${Date.now() - started} ms`);
          assert.equal(progress.length, sse ? 1 : 0, sse ? 'the answer was an SSE stream (the progress notification came first)' : 'a JSON answer');
          assert.equal(textOf(await client.callTool({ name: `${name}__plain`, arguments: {} })), 'plain', 'the session serves the next call');
        } finally {
          await client.close();
        }
      });
    }
  }

  it('a result that deep in a 2025-03-26 batch (JSON and SSE) and on the stateless revision: that answer alone becomes an error with its id', async () => {
    const call = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
    const s = await rawSession(url, '2025-03-26');
    const batch = JSON.stringify([call(1, 'http__deep_result'), call(2, 'own__deep_result'), call(3, 'http__plain')]);
    type Answer = { id?: unknown; result?: unknown; error?: { code?: number; message?: string } };
    const check = (answers: Answer[], how: string) => {
      const byId = new Map(answers.map((a) => [a.id, a]));
      assert.deepEqual([...byId.keys()].sort(), [1, 2, 3], `${how}: every request answered by its id`);
      for (const id of [1, 2]) {
        assert.equal(byId.get(id)?.error?.code, -32603, `${how}: request ${id}`);
        assert.match(String(byId.get(id)?.error?.message), UNWRITABLE);
      }
      assert.equal(textOf(byId.get(3)?.result), 'plain', `${how}: the other answer as it was`);
    };
    const asJson = await fetch(url, { method: 'POST', headers: s.headers, body: batch });
    assert.equal(asJson.status, 200);
    check((await asJson.json()) as Answer[], 'JSON');
    const asSse = await fetch(url, { method: 'POST', headers: { ...s.headers, accept: 'text/event-stream, application/json' }, body: batch });
    assert.equal(asSse.status, 200);
    assert.match(String(asSse.headers.get('content-type')), /text\/event-stream/);
    const events: Answer[] = [];
    for await (const ev of readSse(asSse)) events.push(JSON.parse(ev.data) as Answer);
    check(events, 'SSE');

    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const stateless = await fetch(url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'http__deep_result' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'st', method: 'tools/call', params: { name: 'http__deep_result', arguments: {}, _meta: meta } }),
    });
    assert.equal(stateless.status, 200);
    const a = (await stateless.json()) as Answer;
    assert.equal(a.id, 'st');
    assert.equal(a.error?.code, -32603);
    assert.match(String(a.error?.message), UNWRITABLE);
    assert.equal(proc.exitCode, null, 'the gateway process is still running');
  });

  it('a result that deep to a legacy SSE client: the client gets an error answer with its id, the gateway keeps serving', async () => {
    // The answer went out from an async receive() nobody awaited: its RangeError was an unhandled rejection, which ends node.
    const client = new Client({ name: 'legacy', version: '1' });
    await client.connect(new SSEClientTransport(new URL(url.replace(/\/mcp$/, '/sse'))));
    try {
      const err = await client.callTool({ name: 'own__deep_result', arguments: {} }, undefined, { timeout: 10_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof McpError, `an error answer, not a timeout: ${String(err)}; gateway exit code ${proc.exitCode}`);
      assert.equal(err.code, -32603);
      assert.match(err.message, /could not be written to the client \(RangeError: Maximum call stack size exceeded\)/);
      assert.equal(proc.exitCode, null, 'the gateway process is still running');
      assert.equal(textOf(await client.callTool({ name: 'own__plain', arguments: {} })), 'plain', 'the same stream serves the next call');
    } finally {
      await client.close();
    }
  });

  it('a result that deep to a `mcpeg stdio` client: an error answer with its id, and the next call is served', async () => {
    const file = join(dir, 'stdio.json');
    writeFileSync(file, JSON.stringify({ logging: { level: 'warn' }, backends: { own: { type: 'mcp', command: process.execPath, args: [DEEP] } } }));
    const client = new Client({ name: 'stdio', version: '1' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, 'stdio', '--config', file], stderr: 'ignore' }));
    try {
      const err = await client.callTool({ name: 'own__deep_result', arguments: {} }, undefined, { timeout: 10_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof McpError, `an error answer, not a timeout: ${String(err)}`);
      assert.equal(err.code, -32603);
      assert.equal(textOf(await client.callTool({ name: 'own__plain', arguments: {} })), 'plain', 'the gateway still serves');
    } finally {
      await client.close();
    }
  });

  it('reports the message it could not relay', () => {
    assert.match(stderr, /sent notifications\/(message|progress) that could not be relayed \(RangeError: Maximum call stack size exceeded\)/);
    assert.match(stderr, /an answer could not be written to a Streamable HTTP client: it went as a -32603 error/);
    assert.match(stderr, /an answer could not be written to a stateless Streamable HTTP client/);
  });
});
