/**
 * Review 14 (OpenAPI documents are the backend's, untrusted): two documents that are small
 * as text and huge once walked, served by the API for an `openapi` backend.
 * - JSON, 2.3 KB: 16 schemas, each with 4 properties that `$ref` the next one by a pointer
 *   outside #/components/schemas. Such refs are copied where they are used, so converting
 *   the operation's body meant 4^16 schema nodes: the gateway's event loop never came back
 *   (no /health, no client served, memory growing). Now conversion stops at 1,000,000 nodes
 *   and the backend is down with that reason.
 * - YAML, 36 KB: one mapping of 1,000 properties and 900 aliases of it. maxAliasCount bounds
 *   the number of aliases, not what each stands for: validation walked 900,000 nodes (about
 *   1 s here; a 20 MB document of the same shape, tens of minutes). Now a YAML document whose
 *   aliases expand past twice its length is refused.
 * Through a real `mcpeg gateway` process (its event loop is what blocks); another backend is
 * served meanwhile.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectClient, waitFor, spawnGateway, type GatewayProcess } from '../helpers/gateway.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));

/** 16 levels of 4 properties, each a $ref to the next level outside components/schemas. */
function refBomb(): string {
  const levels = 16;
  const fan = 4;
  const doc = {
    openapi: '3.0.3',
    info: { title: 'bomb', version: '1' },
    paths: {
      '/p': {
        post: { operationId: 'p', requestBody: { content: { 'application/json': { schema: { $ref: '#/x-s/0' } } } }, responses: { 200: { description: 'ok' } } },
      },
    },
    'x-s': Array.from({ length: levels }, (_, i) => ({
      type: 'object',
      properties: Object.fromEntries(Array.from({ length: fan }, (_, j) => [`p${j}`, i + 1 < levels ? { $ref: `#/x-s/${i + 1}` } : { type: 'string' }])),
    })),
  };
  return JSON.stringify(doc);
}

/** One mapping of 1,000 properties, then 900 aliases of it. */
function aliasBomb(): string {
  let y = "openapi: 3.0.3\ninfo: {title: bomb, version: '1'}\npaths:\n  /p:\n    get:\n      responses: {'200': {description: ok}}\ncomponents:\n  schemas:\n";
  y += `    Leaf: &leaf {type: object, properties: {${Array.from({ length: 1000 }, (_, i) => `p${i}: {type: string}`).join(', ')}}}\n`;
  for (let i = 0; i < 900; i++) y += `    U${i}: *leaf\n`;
  return y;
}

describe('review 14: OpenAPI documents that expand when walked', { timeout: 90_000 }, () => {
  let docs: Server;
  let dir: string;
  let proc: ChildProcess | undefined;
  let gateway: GatewayProcess | undefined;
  let url: string;

  before(async () => {
    const served: Record<string, string> = { '/ref.json': refBomb(), '/alias.yaml': aliasBomb() };
    docs = createServer((req, res) => {
      const body = served[req.url ?? ''];
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': req.url?.endsWith('.yaml') ? 'application/yaml' : 'application/json' });
      res.end(body ?? '');
    });
    await new Promise<void>((r) => docs.listen(0, '127.0.0.1', r));
    const api = `http://127.0.0.1:${(docs.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-review14-openapi-'));
    const config = join(dir, 'mcpeg.json');
    const once = { restart: { max_attempts: 1 } };
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        backends: {
          refbomb: { type: 'openapi', spec: `${api}/ref.json`, base_url: api, ...once },
          aliasbomb: { type: 'openapi', spec: `${api}/alias.yaml`, base_url: api, ...once },
          ok: { type: 'mcp', command: process.execPath, args: [ABUSE] },
        },
      }),
    );
    gateway = await spawnGateway(config);
    ({ proc, url } = gateway);
  });
  after(() => {
    proc?.kill('SIGKILL');
    docs?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('both backends are down with the reason, and the gateway serves the other backend', async () => {
    type Health = { backends: Array<{ name: string; state: string; error?: string }> };
    // Each read is bounded: before the fix the gateway's event loop was blocked, and /health never answered.
    const health = () =>
      fetch(url.replace(/\/mcp$/, '/health'), { signal: AbortSignal.timeout(2000) })
        .then((r) => r.json() as Promise<Health>)
        .catch(() => undefined);
    const settled = await waitFor(
      async () => {
        const h = await health();
        const down = h?.backends.filter((b) => (b.name === 'refbomb' || b.name === 'aliasbomb') && b.error);
        return h && down?.length === 2 ? h : undefined;
      },
      'both documents refused',
      30_000,
      200,
    );
    const of = (name: string) => settled.backends.find((b) => b.name === name)!;
    assert.notEqual(of('refbomb').state, 'up');
    assert.match(of('refbomb').error!, /schemas expand to more than 1000000 nodes/);
    assert.notEqual(of('aliasbomb').state, 'up');
    assert.match(of('aliasbomb').error!, /YAML aliases expand to more than \d+ nodes/);
    const client = await connectClient(url);
    try {
      const { tools } = await client.listTools();
      assert.ok(
        tools.some((t) => t.name === 'ok__hold'),
        tools.map((t) => t.name).join(', '),
      );
    } finally {
      await client.close();
    }
  });
});
