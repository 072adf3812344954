/**
 * Transparency: a client gets through MCpeg what it gets from the backend directly. The real
 * `@modelcontextprotocol/server-everything`, as a stdio backend and as a Streamable HTTP
 * backend, is asked the same questions by the official SDK clients (v1
 * `@modelcontextprotocol/sdk` and v2 `@modelcontextprotocol/client`) once directly and once
 * through a real `mcpeg gateway` process: at `/servers/everything/mcp` (its own names) and at
 * the aggregate `/mcp` (names prefixed `everything__`, mapped back before comparing). The
 * answers are compared whole; only what legitimately differs is taken out, each with why
 * (test/helpers/transparency.ts). Legacy HTTP+SSE and `mcpeg stdio` clients: transparency-legacy.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EVERYTHING, spawnGateway, startEverythingHttp, stopGateway, type GatewayProcess } from '../helpers/gateway.js';
import { assertTransparent, CONDITIONAL, connect, type Json, outcome, type Target } from '../helpers/transparency.js';

for (const backend of ['stdio', 'streamableHttp'] as const)
  describe(`transparency: server-everything over ${backend}, directly and through mcpeg`, () => {
    let remote: Awaited<ReturnType<typeof startEverythingHttp>> | undefined;
    let gw: GatewayProcess | undefined;
    let dir: string;
    let base: string;
    let direct: Target;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'mcpeg-transparency-'));
      let everything: Json;
      if (backend === 'stdio') {
        everything = { type: 'mcp', command: process.execPath, args: [EVERYTHING, 'stdio'] };
        direct = { stdio: [EVERYTHING, 'stdio'] };
      } else {
        remote = await startEverythingHttp();
        everything = { type: 'mcp', url: remote.url };
        direct = { http: remote.url };
      }
      const config = join(dir, 'mcpeg.json');
      writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends: { everything } }));
      gw = await spawnGateway(config);
      base = gw.url.slice(0, gw.url.length - '/mcp'.length);
    });

    after(async () => {
      await stopGateway(gw);
      await remote?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    for (const sdk of ['v1', 'v2'] as const) {
      it(`SDK ${sdk}: /servers/everything/mcp answers as the server does`, () =>
        assertTransparent(sdk, direct, { http: `${base}/servers/everything/mcp` }, false, `${backend} ${sdk} /servers/everything/mcp`));

      it(`SDK ${sdk}: the aggregate /mcp answers as the server does, names mapped`, () => assertTransparent(sdk, direct, { http: `${base}/mcp` }, true, `${backend} ${sdk} /mcp`));

      it(`SDK ${sdk}, declaring no capabilities: the same tools but those server-everything offers only to clients with sampling, elicitation or roots`, async () => {
        const d = await connect(sdk, direct, {});
        const g = await connect(sdk, { http: `${base}/servers/everything/mcp` }, {});
        try {
          const [a, b] = [(await d.request('tools/list', {})).tools as Json[], (await g.request('tools/list', {})).tools as Json[]];
          // The lists clients see are the catalog session's, opened with the gateway's capabilities (docs/architecture.md,
          // "per_client and shared backend sessions"): these tools are listed through the gateway, and a call to one gets the server's error.
          const names = new Set(a.map((t) => t.name));
          assert.deepEqual(
            b.map((t) => t.name).filter((n) => !names.has(n)),
            CONDITIONAL,
          );
          assert.deepEqual(
            b.filter((t) => names.has(t.name)),
            a,
          );
          // Calling one reaches the client's own backend session, which has no such tool: the server's answer, as directly.
          for (const name of CONDITIONAL) assert.deepEqual(await outcome(g, 'tools/call', { name, arguments: {} }), await outcome(d, 'tools/call', { name, arguments: {} }));
        } finally {
          await d.close();
          await g.close();
        }
      });
    }
  });
