/**
 * Attack (review 12): an unauthenticated client's initialize declares megabytes about itself.
 *
 * `params.clientInfo` (or `params.capabilities`) of 4 MiB of `[{},{},...]` fits the 4 MiB
 * `server.max_body_bytes`; the session kept it for its life, ~100 MB of heap each, and
 * sessions are bounded only by count (max_sessions 10000). Against a real `mcpeg gateway`
 * process the attacker's script took RSS from 114 MB to 4.3 GB in 45 initializes, and the
 * 46th ended the process (out of memory), cutting every client off. Now capabilities and
 * clientInfo together are bounded (64 KiB of JSON, 64 levels: wire/declarations.ts) on every
 * transport that initializes, and in a 2026-07-28 request's envelope, which a call waiting
 * for input or a pooled backend session holds beyond the request. The same class:
 * logging/setLevel kept any string as the session's level (and sent it to every backend);
 * now only the spec's levels are taken, -32602 otherwise, and so in an envelope's logLevel.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { CLI, connectClient, MCP_HEADERS, readSse, textOf } from '../helpers/gateway.js';

const INFO = fileURLToPath(new URL('../fixtures/client-info-server.js', import.meta.url));
/** The attacker's padding: `[{},{},...]` filling a 4 MiB body. */
const PAD = `[${'{},'.repeat(Math.floor((4 * 1024 * 1024 - 400) / 3) - 1)}{}]`;
const initialize = (where: 'clientInfo' | 'capabilities', id: number | string = 0) =>
  where === 'clientInfo'
    ? `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1","pad":${PAD}}}}`
    : `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"experimental":{"pad":${PAD}}},"clientInfo":{"name":"x","version":"1"}}}`;
const TOO_LARGE = /too large: capabilities and clientInfo together may be at most 65536 characters of JSON, nested at most 64 levels/;

type Answer = { id?: unknown; result?: unknown; error?: { code: number; message: string; data?: Record<string, unknown> } };

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** RSS once the last body's garbage is collected: the least of a few samples over three seconds. */
async function settledRssMb(pid: number): Promise<number> {
  let least = rssMb(pid);
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 500));
    least = Math.min(least, rssMb(pid));
  }
  return least;
}

describe('review12: what an initialize makes the gateway keep is bounded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-review12-'));
  const config = join(dir, 'gateway.json');
  let proc: ChildProcess;
  let url: string;
  let stderr = '';
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  before(async () => {
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        logging: { level: 'warn' },
        backends: { info: { type: 'mcp', command: process.execPath, args: [INFO], session_mode: 'per_client' } },
      }),
    );
    proc = spawn(process.execPath, [CLI, 'gateway', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    url = await new Promise((resolve, reject) => {
      proc.stderr!.on('data', (d: Buffer) => {
        stderr = (stderr + String(d)).slice(-20_000);
        const m = /mcpeg listening on (http:\/\/\S+)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      proc.once('exit', (code) => reject(new Error(`mcpeg exited with ${code}: ${stderr}`)));
    });
  });
  after(() => {
    if (alive()) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses 4 MiB initializes (Streamable HTTP) at once with -32602; no session is kept and RSS stays bounded; an SDK client initializes and calls a tool meanwhile', async () => {
    const before = rssMb(proc.pid!);
    const client = await connectClient(url);
    const sessionsNow = async () => Number(/^mcpeg_sessions_active (\d+)/m.exec(await (await fetch(url.replace(/\/mcp$/, '/metrics'))).text())?.[1]);
    const sessionsBefore = await sessionsNow();
    let served = 0;
    try {
      for (let i = 0; i < 20; i++) {
        const where = i % 2 === 0 ? 'clientInfo' : 'capabilities';
        const started = Date.now();
        const res = await fetch(url, { method: 'POST', headers: MCP_HEADERS, body: initialize(where, i) });
        const a = (await res.json()) as Answer;
        assert.equal(res.status, 400, `initialize ${i} (${where}) refused, not a session: ${JSON.stringify(a).slice(0, 300)}`);
        assert.equal(res.headers.get('mcp-session-id'), null, 'no session was made');
        assert.equal(a.id, i);
        assert.equal(a.error?.code, -32602);
        assert.match(a.error!.message, new RegExp(`initialize's ${where} is ${TOO_LARGE.source}`));
        assert.ok(Date.now() - started < 5000, `answered promptly (${Date.now() - started} ms)`);
        if (i % 5 === 4) {
          // A client that declares itself as clients do is served meanwhile.
          const other = await connectClient(url, { name: `ok-${i}` });
          assert.equal(JSON.parse(textOf(await other.callTool({ name: 'info__client_info', arguments: {} }))).clientInfo.name, `ok-${i}`);
          await other.close();
          served++;
        }
      }
      assert.ok(JSON.parse(textOf(await client.callTool({ name: 'info__client_info', arguments: {} }))).clientInfo, 'the first client is still served');
      // Before: each became a session keeping ~100 MB (4.3 GB at 45 sessions, then out of memory). Now none is a session:
      // the sessions that appeared are the served clients' (closed without DELETE, they stay until idle).
      assert.equal((await sessionsNow()) - sessionsBefore, served, 'no session from a refused initialize');
      // What RSS keeps is the heap V8 grew to parse such bodies (~1.4 million objects each, as for any method's body),
      // garbage it sizes differently by version (Node 20 settled ~200 MB up, Node 22 ~400 MB): bounded, and far below
      // the ~2 GB that 20 kept sessions held.
      const after = await settledRssMb(proc.pid!);
      assert.ok(after - before < 1200, `gateway RSS grew ${(after - before).toFixed(0)} MB over 20 refused initializes (${before.toFixed(0)} -> ${after.toFixed(0)} MB)`);
      assert.ok(alive(), 'the gateway is up');
    } finally {
      await client.close();
    }
  });

  it('refuses a declaration nested too deep (JSON.stringify of it would overflow the stack), at once', async () => {
    const depth = 100_000;
    const body = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"experimental":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}},"clientInfo":{"name":"x","version":"1"}}}`;
    const res = await fetch(url, { method: 'POST', headers: MCP_HEADERS, body });
    const a = (await res.json()) as Answer;
    assert.equal(res.status, 400);
    assert.equal(a.error?.code, -32602);
    assert.match(a.error!.message, /initialize's capabilities is too large/);
    // 65 levels of clientInfo: past the depth bound however small.
    const nested = `{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1","x":${'['.repeat(64)}${']'.repeat(64)}}}}`;
    const b = (await (await fetch(url, { method: 'POST', headers: MCP_HEADERS, body: nested })).json()) as Answer;
    assert.equal(b.error?.code, -32602);
    assert.match(b.error!.message, /initialize's clientInfo is too large/);
    assert.ok(alive());
  });

  it('passes a normal clientInfo (title, icons, websiteUrl) and capabilities to a per_client backend unchanged', async () => {
    const clientInfo = {
      name: 'full-client',
      version: '2.3.4',
      title: 'Full Client',
      websiteUrl: 'https://example.com/client',
      icons: [{ src: 'https://example.com/icon.png', mimeType: 'image/png', sizes: ['48x48'] }],
    };
    const capabilities = { sampling: {}, roots: { listChanged: true }, elicitation: { form: {} }, experimental: { 'x-vendor': { a: [1, 2, { b: 'c' }] } } };
    const client = new Client(clientInfo, { capabilities });
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    try {
      const got = JSON.parse(textOf(await client.callTool({ name: 'info__client_info', arguments: {} })));
      assert.deepEqual(got.clientInfo, clientInfo);
      assert.deepEqual(got.capabilities, capabilities);
    } finally {
      await client.close();
    }
  });

  it('refuses a 4 MiB initialize on legacy SSE the same way (-32602 on the stream), and the stream initializes after', async () => {
    const ac = new AbortController();
    const res = await fetch(url.replace(/\/mcp$/, '/sse'), { headers: { accept: 'text/event-stream' }, signal: ac.signal });
    const events = readSse(res);
    try {
      const endpoint = (await events.next()).value!;
      assert.equal(endpoint.event, 'endpoint');
      const post = new URL(endpoint.data, url).toString();
      const posted = await fetch(post, { method: 'POST', headers: { 'content-type': 'application/json' }, body: initialize('clientInfo', 'big') });
      assert.ok(posted.status < 300, `accepted for the stream (${posted.status})`);
      const a = JSON.parse((await events.next()).value!.data) as Answer;
      assert.equal(a.id, 'big');
      assert.equal(a.error?.code, -32602, JSON.stringify(a).slice(0, 300));
      assert.match(a.error!.message, TOO_LARGE);
      // Not initialized by it: a proper initialize on the same stream succeeds.
      await fetch(post, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 'ok',
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
        }),
      });
      const ok = JSON.parse((await events.next()).value!.data) as Answer;
      assert.equal(ok.id, 'ok');
      assert.ok(ok.result, JSON.stringify(ok).slice(0, 300));
    } finally {
      ac.abort();
      await events.return(undefined).catch(() => {});
    }
  });

  it('refuses a 4 MiB initialize on `mcpeg stdio` the same way, and the connection initializes after', async () => {
    const child = spawn(process.execPath, [CLI, 'stdio', '--config', config], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      let buf = '';
      const lines: string[] = [];
      child.stdout!.on('data', (d: Buffer) => {
        buf += String(d);
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          lines.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      const answer = async (id: string): Promise<Answer> => {
        const end = Date.now() + 10_000;
        for (;;) {
          const found = lines.map((l) => JSON.parse(l) as Answer).find((m) => m.id === id);
          if (found) return found;
          if (Date.now() > end) throw new Error(`no answer to ${id}; got ${lines.join('\n').slice(0, 500)}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      child.stdin!.write(`${initialize('capabilities', 'big')}\n`);
      const a = await answer('big');
      assert.equal(a.error?.code, -32602, JSON.stringify(a).slice(0, 300));
      assert.match(a.error!.message, /initialize's capabilities is too large/);
      child.stdin!.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: 'ok', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } })}\n`,
      );
      assert.ok((await answer('ok')).result);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses a 2026-07-28 envelope past the same bound, or naming an unknown logLevel (400, -32602)', async () => {
    const post = (meta: string) =>
      fetch(url, {
        method: 'POST',
        headers: { ...MCP_HEADERS, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
        body: `{"jsonrpc":"2.0","id":"st","method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",${meta}}}}`,
      });
    const cases: Array<[string, RegExp]> = [
      [`"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"x","version":"1","pad":${PAD}}`, /clientInfo is too large/],
      [`"io.modelcontextprotocol/clientCapabilities":{"experimental":{"pad":${PAD}}}`, /clientCapabilities is too large/],
      [`"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"${'v'.repeat(1000)}"`, /logLevel must be one of debug, info/],
    ];
    for (const [meta, message] of cases) {
      const res = await post(meta);
      const a = (await res.json()) as Answer;
      assert.equal(res.status, 400, JSON.stringify(a).slice(0, 300));
      assert.equal(a.error?.code, -32602);
      assert.match(a.error!.message, message);
    }
    const ok = await post('"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"debug"');
    assert.equal(ok.status, 200);
    assert.ok(((await ok.json()) as Answer).result);
  });

  it('logging/setLevel takes only the spec levels: a bogus one is refused, as the official SDK server refuses it, and the session keeps its level', async () => {
    // The official SDK server (v1 Server, declaring logging), directly.
    const direct = new Client({ name: 'direct', version: '1' });
    await direct.connect(new StdioClientTransport({ command: process.execPath, args: [INFO], stderr: 'ignore' }));
    const refusal = (c: Client, level: string) =>
      c.setLoggingLevel(level as 'debug').then(
        () => undefined,
        (e: unknown) => e,
      );
    const client = await connectClient(url);
    try {
      const sdk = await refusal(direct, 'bogus');
      assert.ok(sdk instanceof McpError, 'the SDK server refuses a level outside the spec');
      for (const level of ['bogus', 'v'.repeat(100_000)]) {
        const err = await refusal(client, level);
        assert.ok(err instanceof McpError, `the gateway refuses it too (${String(err).slice(0, 200)})`);
        // The spec (logging, "Error Handling"): -32602 for an invalid level. The SDK answers its schema's failure as -32603.
        assert.equal(err.code, -32602);
        assert.match(err.message, /logging\/setLevel needs "level" to be one of debug, info, notice, warning, error, critical, alert, emergency/);
      }
      for (const level of ['debug', 'emergency'] as const) {
        assert.equal(await refusal(direct, level), undefined);
        assert.equal(await refusal(client, level), undefined, `${level} is taken`);
      }
    } finally {
      await client.close();
      await direct.close();
    }
  });
});
