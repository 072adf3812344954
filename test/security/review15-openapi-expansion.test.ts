/**
 * Review 15 (OpenAPI documents are the backend's, untrusted): shapes that review 14's bound
 * (1,000,000 schema nodes converted) did not see, each a few KB, served by the API of an
 * `openapi` backend to a real `mcpeg gateway` process (its event loop is what blocks):
 * - copies (5.6 KB JSON): 8 levels of 4 properties, each a `$ref` outside components/schemas
 *   to the next level, the last to a schema with a 4,000-character description. 175,000
 *   nodes converted, under the bound, but the description is the document's one string in
 *   each of 4^8 places: 270 MB of tool schemas. Now a document whose tools are past 64 MiB
 *   of JSON is refused.
 * - enums (60 KB JSON): the same with 8 levels and an enum of 30,000 members: withDefs
 *   walked the enum once per place looking for $refs (2.7 s at 10,000 members; linear in it).
 *   Now only schema positions are walked, each node counted toward the bound, and the
 *   document is refused by its size.
 * - alternatives (3.8 KB JSON): 40 components, each `oneOf` the next one twice. Deciding
 *   whether the output is an object (isObject) made 2^40 calls: for ever. Now each component
 *   is decided once and the backend serves its tool.
 * - pets: `Pet: oneOf [Cat]`, `Cat: allOf [Pet, {type: object}]` (a polymorphic document): the
 *   same check recursed without end (stack overflow) and the backend was down. Now it serves.
 * Another backend is served meanwhile.
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

const doc = (paths: Record<string, unknown>, extra: Record<string, unknown>) => JSON.stringify({ openapi: '3.0.3', info: { title: 'bomb', version: '1' }, paths, ...extra });
const jsonBody = (schema: unknown) => ({ content: { 'application/json': { schema } } });

/** `levels` levels of 4 properties, each a $ref outside components/schemas to the next, the last to `leaf`. */
function copies(levels: number, leaf: Record<string, unknown>): string {
  return doc(
    { '/p': { post: { operationId: 'p', requestBody: jsonBody({ $ref: '#/x-s/0' }), responses: { 200: { description: 'ok' } } } } },
    {
      'x-s': Array.from({ length: levels }, (_, i) => ({
        type: 'object',
        properties: Object.fromEntries(Array.from({ length: 4 }, (_, j) => [`p${j}`, { $ref: i + 1 < levels ? `#/x-s/${i + 1}` : '#/x-leaf' }])),
      })),
      'x-leaf': leaf,
    },
  );
}

/** 40 components, each oneOf the next one twice; the output of the one operation is the first. */
function alternatives(): string {
  const schemas: Record<string, unknown> = { D40: { type: 'object' } };
  for (let i = 0; i < 40; i++) schemas[`D${i}`] = { oneOf: [{ $ref: `#/components/schemas/D${i + 1}` }, { $ref: `#/components/schemas/D${i + 1}` }] };
  return doc({ '/p': { get: { operationId: 'p', responses: { 200: { description: 'ok', ...jsonBody({ $ref: '#/components/schemas/D0' }) } } } } }, { components: { schemas } });
}

function pets(): string {
  const schemas = {
    Pet: { oneOf: [{ $ref: '#/components/schemas/Cat' }] },
    Cat: { allOf: [{ $ref: '#/components/schemas/Pet' }, { type: 'object', properties: { meow: { type: 'boolean' } } }] },
  };
  return doc(
    { '/pet': { get: { operationId: 'pet', responses: { 200: { description: 'ok', ...jsonBody({ $ref: '#/components/schemas/Pet' }) } } } } },
    { components: { schemas } },
  );
}

describe('review 15: OpenAPI documents whose tools are huge, or whose check was exponential', { timeout: 90_000 }, () => {
  let docs: Server;
  let dir: string;
  let proc: ChildProcess | undefined;
  let gateway: GatewayProcess | undefined;
  let url: string;

  before(async () => {
    const served: Record<string, string> = {
      '/copies.json': copies(8, { type: 'string', description: 'd'.repeat(4000) }),
      '/enums.json': copies(8, { type: 'integer', enum: Array.from({ length: 30_000 }, () => 0) }),
      '/alternatives.json': alternatives(),
      '/pets.json': pets(),
    };
    docs = createServer((req, res) => {
      const body = served[req.url ?? ''];
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(body ?? '');
    });
    await new Promise<void>((r) => docs.listen(0, '127.0.0.1', r));
    const api = `http://127.0.0.1:${(docs.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-review15-openapi-'));
    const config = join(dir, 'mcpeg.json');
    const backend = (file: string) => ({ type: 'openapi', spec: `${api}/${file}`, base_url: api, restart: { max_attempts: 1 } });
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        backends: {
          copies: backend('copies.json'),
          enums: backend('enums.json'),
          alternatives: backend('alternatives.json'),
          pets: backend('pets.json'),
          ok: { type: 'mcp', command: process.execPath, args: [ABUSE] },
        },
      }),
    );
    // Before the fix the gateway blocked while converting: it never printed this line.
    gateway = await spawnGateway(config);
    ({ proc, url } = gateway);
  });
  after(() => {
    proc?.kill('SIGKILL');
    docs?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the huge ones are down with the reason, the others serve their tools, and so does the other backend', async () => {
    type Health = { backends: Array<{ name: string; state: string; error?: string }> };
    const health = () =>
      fetch(url.replace(/\/mcp$/, '/health'), { signal: AbortSignal.timeout(2000) })
        .then((r) => r.json() as Promise<Health>)
        .catch(() => undefined);
    const settled = await waitFor(
      async () => {
        const h = await health();
        const of = (name: string) => h?.backends.find((b) => b.name === name);
        return of('copies')?.error && of('enums')?.error && of('alternatives')?.state === 'up' && of('pets')?.state === 'up' ? h : undefined;
      },
      'the documents refused or served',
      30_000,
      200,
    );
    const of = (name: string) => settled.backends.find((b) => b.name === name)!;
    assert.match(of('copies').error!, /tools are more than 67108864 characters of JSON/);
    assert.match(of('enums').error!, /tools are more than 67108864 characters of JSON|schemas expand to more than 1000000 nodes/);
    const client = await connectClient(url);
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      for (const want of ['ok__hold', 'alternatives__p', 'pets__pet']) assert.ok(names.includes(want), names.join(', '));
      // D0 is an object whichever way it goes: the output schema is D0's, not wrapped in {result}.
      const p = tools.find((t) => t.name === 'alternatives__p')!;
      assert.equal((p.outputSchema as { properties?: Record<string, unknown> } | undefined)?.properties?.result, undefined, JSON.stringify(p.outputSchema).slice(0, 300));
    } finally {
      await client.close();
    }
  });
});
