/**
 * Review 15 (OpenAPI documents are the backend's, untrusted): YAML that costs the parser far
 * more than its size, before review 14's bound on what aliases expand to (which runs after).
 * - keys (1.8 MB): one mapping of 150,000 keys. The parser compared each key with every key
 *   before it (its duplicate check): 96 s for 100,000 keys, quadratic (a 5 MB document, half
 *   an hour) of a blocked event loop at start. Now duplicates are found in one pass (still
 *   refused) and the document serves its tool.
 * - merges (600 KB): `%YAML 1.1`, one 50,000-key mapping and 990 mappings that merge it
 *   (`<<: *base`): each merge copied every key while parsing (990 merges of 20,000 keys: 11 s;
 *   maxAliasCount bounds the aliases, not what each copies). Now YAML is read with the core
 *   schema whatever the document declares (OpenAPI documents are YAML 1.2, where `<<` is a
 *   plain key, as in a document without the directive): no merge is made, and the aliases
 *   are refused at once by what they expand to.
 * Through a real `mcpeg gateway` process; another backend is served.
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

const HEAD = "openapi: 3.0.3\ninfo: {title: bomb, version: '1'}\npaths:\n  /p:\n    get:\n      operationId: p\n      responses: {'200': {description: ok}}\n";
const mapping = (n: number) => Array.from({ length: n }, (_, i) => `  k${i}: 0\n`).join('');

/** A valid OpenAPI document with an extension of 150,000 keys. */
const keys = () => `${HEAD}x-base:\n${mapping(150_000)}`;

/** The same with `%YAML 1.1`, a 50,000-key mapping and 990 mappings that merge it. */
const merges = () => `%YAML 1.1\n---\n${HEAD}x-base: &b\n${mapping(50_000)}${Array.from({ length: 990 }, (_, i) => `x-m${i}:\n  <<: *b\n`).join('')}`;

describe('review 15: YAML documents slow to parse', { timeout: 90_000 }, () => {
  let docs: Server;
  let dir: string;
  let proc: ChildProcess | undefined;
  let gateway: GatewayProcess | undefined;
  let url: string;

  before(async () => {
    const served: Record<string, string> = { '/keys.yaml': keys(), '/merges.yaml': merges() };
    docs = createServer((req, res) => {
      const body = served[req.url ?? ''];
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/yaml' });
      res.end(body ?? '');
    });
    await new Promise<void>((r) => docs.listen(0, '127.0.0.1', r));
    const api = `http://127.0.0.1:${(docs.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-review15-merge-'));
    const config = join(dir, 'mcpeg.json');
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        backends: {
          keys: { type: 'openapi', spec: `${api}/keys.yaml`, base_url: api, restart: { max_attempts: 1 } },
          merges: { type: 'openapi', spec: `${api}/merges.yaml`, base_url: api, restart: { max_attempts: 1 } },
          ok: { type: 'mcp', command: process.execPath, args: [ABUSE] },
        },
      }),
    );
    // Before the fix the gateway was parsing (minutes): it never printed this line in time.
    gateway = await spawnGateway(config);
    ({ proc, url } = gateway);
  });
  after(() => {
    proc?.kill('SIGKILL');
    docs?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the keys serve their tool, the merges are refused by what the aliases expand to, and the other backend is served', async () => {
    type Health = { backends: Array<{ name: string; state: string; error?: string }> };
    const health = () =>
      fetch(url.replace(/\/mcp$/, '/health'), { signal: AbortSignal.timeout(2000) })
        .then((r) => r.json() as Promise<Health>)
        .catch(() => undefined);
    const merges = await waitFor(async () => (await health())?.backends.find((b) => b.name === 'merges' && b.error), 'the document refused', 30_000, 200);
    assert.notEqual(merges.state, 'up');
    assert.match(merges.error!, /YAML aliases expand to more than \d+ nodes/);
    // The keys load in a worker thread now: on a busy machine past connect_timeout, the restart takes its result.
    await waitFor(async () => (await health())?.backends.find((b) => b.name === 'keys' && b.state === 'up'), 'keys up', 30_000, 200);
    const client = await connectClient(url);
    try {
      const { tools } = await client.listTools();
      assert.ok(
        ['ok__hold', 'keys__p'].every((n) => tools.some((t) => t.name === n)),
        tools.map((t) => t.name).join(', '),
      );
    } finally {
      await client.close();
    }
  });
});
