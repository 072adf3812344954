/**
 * A plugin is trusted code, but not always careful code: `reject()`, `throw null`, a string
 * thrown. Before, the gateway read `.message` from whatever a plugin threw: a health hook
 * rejecting with null ended the gateway process at its first health check, a start()
 * rejecting with null stopped the gateway from starting at all, and a resource or prompt
 * handler throwing null left the client's request without an answer until its timeout.
 * Now every value a plugin throws becomes an Error at the boundary (util/as-error.ts),
 * against a real `mcpeg gateway` process and the official SDK client.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'mcpeg-plugin-throws-'));
// One module, three instances: its config says which of its hooks throw what.
writeFileSync(
  join(dir, 'careless.mjs'),
  `export default {
  name: 'careless',
  version: '1.0.0',
  start(config) {
    if (config.start === 'null') return Promise.reject(null);
    if (config.start === 'nothing') return undefined;
    return {
      tools: [
        { name: 'ok', inputSchema: { type: 'object' }, handler: () => ({ content: [{ type: 'text', text: 'fine' }] }) },
        { name: 'throws_null', inputSchema: { type: 'object' }, handler() { throw null; } },
        { name: 'throws_text', inputSchema: { type: 'object' }, handler() { throw 'disk full'; } },
      ],
      resources: [{ uri: 'careless://r', name: 'r', read() { throw null; } }],
      prompts: [{ name: 'p', get: () => Promise.reject(undefined) }],
      health() {
        if (config.health === 'sync-undefined') throw undefined;
        return Promise.reject(null);
      },
      stop: () => Promise.reject(null),
    };
  },
};
`,
);
writeFileSync(
  join(dir, 'config.yaml'),
  `server: { port: 0 }
paths: { data: ./data, workspace: ./workspace }
plugins:
  - name: rejects
    module: ./careless.mjs
    health_check: { interval: 100ms }
  - name: throws
    module: ./careless.mjs
    config: { health: sync-undefined }
    health_check: { interval: 100ms }
  - name: nostart
    module: ./careless.mjs
    config: { start: "null" }
  - name: noinstance
    module: ./careless.mjs
    config: { start: nothing }
`,
);

interface Health {
  backends: Array<{ name: string; state: string; healthy?: boolean; detail?: string; error?: string }>;
}

describe('a plugin that throws what is not an Error', () => {
  let gw: GatewayProcess;
  let client: Client;
  let exited: number | null | undefined;
  after(async () => {
    await client?.close().catch(() => undefined);
    if (gw && exited === undefined) gw.proc.kill('SIGKILL');
  });

  it('the gateway starts and serves the plugins that did start; the one whose start() rejected with null is down, its error named', async () => {
    gw = await spawnGateway(join(dir, 'config.yaml'));
    gw.proc.once('exit', (code) => (exited = code));
    client = new Client({ name: 'careless-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    const r = await client.callTool({ name: 'rejects__ok', arguments: {} });
    assert.deepEqual(r.content, [{ type: 'text', text: 'fine' }]);
    const health = (await (await fetch(new URL('/health', gw.url))).json()) as Health;
    const nostart = health.backends.find((b) => b.name === 'nostart');
    assert.equal(nostart?.state, 'down');
    assert.match(nostart?.error ?? '', /threw null, not an Error/);
    // start() that gives no instance is named as such (it read as "Cannot read properties of undefined").
    const noinstance = health.backends.find((b) => b.name === 'noinstance');
    assert.equal(noinstance?.state, 'down');
    assert.match(noinstance?.error ?? '', /noinstance: start\(\) gave undefined, not an instance/);
  });

  it('health hooks that reject with null or throw undefined: the process lives on through many checks, and /health says unhealthy', async () => {
    // 100 ms checks: 15 rounds of both hooks.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(exited, undefined, `the gateway exited (${exited}): ${gw.stderr().slice(-1500)}`);
    const health = (await (await fetch(new URL('/health', gw.url))).json()) as Health;
    for (const name of ['rejects', 'throws']) {
      const b = health.backends.find((x) => x.name === name);
      assert.equal(b?.healthy, false, `${name}: ${JSON.stringify(b)}`);
      assert.match(b?.detail ?? '', /threw (null|undefined), not an Error/);
    }
    const r = await client.callTool({ name: 'throws__ok', arguments: {} });
    assert.deepEqual(r.content, [{ type: 'text', text: 'fine' }]);
  });

  it('a tool, a resource and a prompt that throw null, undefined or text each get their answer at once', async () => {
    const quick = { timeout: 5000 };
    const nul = await client.callTool({ name: 'rejects__throws_null', arguments: {} }, undefined, quick);
    assert.equal(nul.isError, true);
    assert.deepEqual(nul.content, [{ type: 'text', text: 'throws_null failed: threw null, not an Error' }]);
    const text = await client.callTool({ name: 'rejects__throws_text', arguments: {} }, undefined, quick);
    assert.deepEqual(text.content, [{ type: 'text', text: 'throws_text failed: disk full' }]);
    await assert.rejects(client.readResource({ uri: 'careless://r' }, quick), /-32603.*threw null, not an Error/);
    await assert.rejects(client.getPrompt({ name: 'rejects__p' }, quick), /-32603.*threw undefined, not an Error/);
    assert.equal(exited, undefined);
  });

  it('stop() rejecting with null on SIGTERM: the gateway still drains and exits 0', async () => {
    await client.close();
    const code = new Promise<number | null>((r) => (exited === undefined ? gw.proc.once('exit', r) : r(exited)));
    gw.proc.kill('SIGTERM');
    assert.equal(await code, 0, gw.stderr().slice(-1500));
    assert.match(gw.stderr(), /"err":"threw null, not an Error","msg":"backend did not stop cleanly"/);
  });
});
