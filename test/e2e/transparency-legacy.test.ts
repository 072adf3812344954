/**
 * Transparency on the other client transports (transparency.test.ts does Streamable HTTP): a
 * client on legacy HTTP+SSE gets through `mcpeg gateway`'s `/servers/everything/sse` and
 * aggregate `/sse` what it gets from server-everything in `sse` mode directly (the gateway's
 * backend is that same server, on its outbound legacy SSE transport), and a client on stdio
 * gets through `mcpeg stdio` (the aggregate view) what it gets from server-everything over
 * stdio directly. The official SDK clients, v1 and v2, are asked the same questions on both
 * sides and the answers compared whole (test/helpers/transparency.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, EVERYTHING, spawnGateway, startEverythingHttp, stopGateway, type GatewayProcess } from '../helpers/gateway.js';
import { assertTransparent, type Json } from '../helpers/transparency.js';

/** A temporary directory holding `mcpeg.json` with server-everything as the backend `everything`. */
function configWith(everything: Json): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-transparency-legacy-'));
  const config = join(dir, 'mcpeg.json');
  writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends: { everything } }));
  return { dir, config };
}

describe('transparency: legacy HTTP+SSE clients, server-everything in sse mode directly and through mcpeg', () => {
  let remote: Awaited<ReturnType<typeof startEverythingHttp>> | undefined;
  let gw: GatewayProcess | undefined;
  let dir = '';
  let base = '';

  before(async () => {
    remote = await startEverythingHttp('sse');
    const made = configWith({ type: 'mcp', url: remote.url, transport: 'sse' });
    dir = made.dir;
    gw = await spawnGateway(made.config);
    base = gw.url.slice(0, gw.url.length - '/mcp'.length);
  });

  after(async () => {
    await stopGateway(gw);
    await remote?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const sdk of ['v1', 'v2'] as const) {
    it(`SDK ${sdk}: /servers/everything/sse answers as the server does`, () =>
      assertTransparent(sdk, { sse: remote!.url }, { sse: `${base}/servers/everything/sse` }, false, `sse ${sdk} /servers/everything/sse`));

    it(`SDK ${sdk}: the aggregate /sse answers as the server does, names mapped`, () =>
      assertTransparent(sdk, { sse: remote!.url }, { sse: `${base}/sse` }, true, `sse ${sdk} /sse`));

    // The transport's own version (the SDK clients ask for their latest unless told): resource links as text, no elicitation.
    it(`SDK ${sdk} on 2024-11-05: /servers/everything/sse answers as the server does, but what the gateway documents for older clients`, () =>
      assertTransparent(sdk, { sse: remote!.url }, { sse: `${base}/servers/everything/sse` }, false, `sse ${sdk} 2024-11-05 /servers/everything/sse`, '2024-11-05'));
  }
});

describe('transparency: stdio clients, server-everything over stdio directly and through mcpeg stdio', () => {
  let dir = '';
  let config = '';

  before(() => {
    ({ dir, config } = configWith({ type: 'mcp', command: process.execPath, args: [EVERYTHING, 'stdio'] }));
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // Each client starts its process and ends it on close (the SDK's stdio transports): `mcpeg stdio` then closes its backends.
  for (const sdk of ['v1', 'v2'] as const)
    it(`SDK ${sdk}: mcpeg stdio answers as the server does, names mapped`, () =>
      assertTransparent(sdk, { stdio: [EVERYTHING, 'stdio'] }, { stdio: [CLI, 'stdio', '--config', config] }, true, `stdio ${sdk} mcpeg stdio`));

  it('SDK v1 on 2025-03-26: mcpeg stdio answers as the server does, but what the gateway documents for older clients', () =>
    assertTransparent('v1', { stdio: [EVERYTHING, 'stdio'] }, { stdio: [CLI, 'stdio', '--config', config] }, true, 'stdio v1 2025-03-26 mcpeg stdio', '2025-03-26'));
});
