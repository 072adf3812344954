/**
 * SEP-2243 `x-mcp-header` through the gateway, against a real SDK v2 server (createMcpHandler,
 * which checks every Mcp-Param header against the body and refuses a call with -32020):
 * - the gateway mirrors declarations at any depth and every scalar type into the headers of
 *   its calls, so a nested argument reaches the backend as it does from an SDK v2 client;
 * - a tool whose declarations are invalid is left out of the gateway's catalog, as the SDK v2
 *   client leaves it out when it talks to the server directly (a client MUST, SEP-2243);
 * - the gateway's own check of a client's headers agrees with the backend's, case by case.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client as V2Client, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { StdioClientTransport as V2Stdio } from '@modelcontextprotocol/client/stdio';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { fileURLToPath } from 'node:url';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';
import { toFetchListener } from '../fixtures/stateless-server.js';
import { buildParamHeadersServer } from '../fixtures/param-headers-server.js';

const STDIO_SERVER = fileURLToPath(new URL('../fixtures/param-headers-server.js', import.meta.url));

async function v2(url: string): Promise<V2Client> {
  const c = new V2Client({ name: 'v2-param-headers', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await c.connect(new V2Http(new URL(url)));
  return c;
}

describe('x-mcp-header (SEP-2243) through the gateway, against an SDK v2 server that checks them', () => {
  let server: Server;
  let direct: string;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  // The SDK warns when its server lists, and its client leaves out, an invalid tool: kept out of the test output.
  const warn = console.warn;
  before(async () => {
    console.warn = (...a: unknown[]) => void (String(a[0]).startsWith('[mcp-sdk]') || warn(...a));
    const handler = createMcpHandler(() => buildParamHeadersServer(), { onerror: () => {} });
    let port = 0;
    server = createServer(toFetchListener(handler, () => port));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    direct = `http://127.0.0.1:${port}/mcp`;
    gw = await startGateway({ backends: { p: { type: 'mcp', url: direct }, s: { type: 'mcp', command: process.execPath, args: [STDIO_SERVER, '--stdio'] } } });
  });
  after(async () => {
    console.warn = warn;
    await gw?.close();
    await new Promise((r) => server?.close(r));
  });

  it('lists what an SDK v2 client gets directly: the tools with invalid declarations are left out, for every client', async () => {
    const d = await v2(direct);
    const directNames = (await d.listTools()).tools.map((t) => t.name).sort();
    await d.close();
    assert.deepEqual(directNames, ['plain', 'route'], 'the SDK v2 client leaves the invalid ones out');
    // A 2025-11-25 client leaves nothing out itself: what it sees is the gateway's catalog.
    const v1 = await connectClient(gw.url);
    const viaV1 = (await v1.listTools()).tools
      .map((t) => t.name)
      .filter((n) => n.startsWith('p__'))
      .sort();
    await v1.close();
    assert.deepEqual(
      viaV1,
      directNames.map((n) => `p__${n}`),
    );
    const g = await v2(gw.url);
    const viaV2 = (await g.listTools()).tools.map((t) => t.name).sort();
    await g.close();
    assert.deepEqual(
      viaV2.filter((n) => n.startsWith('p__')),
      viaV1.filter((n) => n.startsWith('p__')),
    );
  });

  it('keeps them from a 2026-07-28 backend on stdio, which carries no headers, as the SDK v2 client does over stdio', async () => {
    const d = new V2Client({ name: 'v2-param-headers', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await d.connect(new V2Stdio({ command: process.execPath, args: [STDIO_SERVER, '--stdio'], stderr: 'ignore' }));
    const directNames = (await d.listTools()).tools.map((t) => t.name).sort();
    await d.close();
    assert.deepEqual(directNames, ['broken_name', 'broken_number', 'broken_place', 'plain', 'route']);
    const health = (await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ name: string; protocol: string }> };
    assert.equal(health.backends.find((b) => b.name === 's')?.protocol, '2026-07-28', 'the gateway speaks 2026-07-28 to it');
    const v1 = await connectClient(gw.url);
    const viaV1 = (await v1.listTools()).tools.map((t) => t.name).filter((n) => n.startsWith('s__'));
    await v1.close();
    assert.deepEqual(
      viaV1.sort(),
      directNames.map((n) => `s__${n}`),
    );
  });

  it('mirrors nested, integer and boolean arguments into the headers the backend checks, for 2025 and 2026 clients alike', async () => {
    const args = { target: { zone: 'eu-west 1' }, count: 42, dry: true, note: 'n' };
    const d = await v2(direct);
    const expected = textOf(await d.callTool({ name: 'route', arguments: args }));
    await d.close();
    assert.match(expected, /^route /);
    const v1 = await connectClient(gw.url);
    const g = await v2(gw.url);
    try {
      // Without the Mcp-Param-Zone header the backend refuses the call (-32020), and the client gets an error instead.
      assert.equal(textOf(await v1.callTool({ name: 'p__route', arguments: args })), expected);
      assert.equal(textOf(await g.callTool({ name: 'p__route', arguments: args })), expected);
      // Non-ASCII and surrounding spaces travel base64-encoded; absent arguments send no header.
      const odd = { target: { zone: ' zöne ' } };
      assert.equal(textOf(await v1.callTool({ name: 'p__route', arguments: odd })), `route ${JSON.stringify(odd)}`);
      assert.equal(textOf(await g.callTool({ name: 'p__route', arguments: {} })), 'route {}');
    } finally {
      await v1.close();
      await g.close();
    }
  });

  it("checks a 2026-07-28 client's headers as the backend does, case by case", async () => {
    const send = (url: string, name: string, args: Record<string, unknown>, extra: Record<string, string>) =>
      fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': name,
          ...extra,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: {
            name,
            arguments: args,
            _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} },
          },
        }),
      });
    const outcome = async (res: Response) => {
      const body = (await res.json()) as { result?: unknown; error?: { code: number } };
      return `${res.status} ${body.error ? body.error.code : 'result'}`;
    };
    const cases: Array<[string, Record<string, unknown>, Record<string, string>]> = [
      ['nested, matching', { target: { zone: 'eu' } }, { 'mcp-param-zone': 'eu' }],
      ['nested, header absent', { target: { zone: 'eu' } }, {}],
      ['nested, header differs', { target: { zone: 'eu' } }, { 'mcp-param-zone': 'us' }],
      ['integer as 42.0', { count: 42 }, { 'mcp-param-count': '42.0' }],
      ['integer as hex', { count: 42 }, { 'mcp-param-count': '0x2a' }],
      ['integer as exponent', { count: 42 }, { 'mcp-param-count': '4.2e1' }],
      ['boolean, other case', { dry: false }, { 'mcp-param-dry-run': 'False' }],
      ['header without its argument', {}, { 'mcp-param-count': '7' }],
      ['base64, not canonical', { target: { zone: 'Hello' } }, { 'mcp-param-zone': '=?base64?SGVsbG8?=' }],
      // An SDK v2 client sends no header for an integer past 2^53, and its server expects none.
      ['integer past 2^53, no header', { count: 2 ** 60 }, {}],
      ['integer past 2^53, some header', { count: 2 ** 60 }, { 'mcp-param-count': '1' }],
      // Only spaces and tabs surround a value: a 0xA0 byte (U+00A0 in node's latin1) is part of it.
      ['U+00A0 around the value', { target: { zone: 'eu' } }, { 'mcp-param-zone': '\u00a0eu\u00a0' }],
    ];
    const seen: string[] = [];
    for (const [why, args, headers] of cases) {
      const want = await outcome(await send(direct, 'route', args, headers));
      const got = await outcome(await send(gw.url, 'p__route', args, headers));
      assert.equal(got, want, `${why}: the gateway answers as the backend does`);
      seen.push(want);
    }
    // Both outcomes occur: the comparison is not of two servers that accept (or refuse) everything.
    assert.ok(seen.includes('200 result') && seen.includes('400 -32020'), seen.join(', '));
  });
});
