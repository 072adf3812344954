/**
 * Attack (review 20): 2026-07-28 `subscriptions/listen` requests sent down one legacy SSE
 * connection (POST /messages), each with a body's worth of params the listen does not use
 * (`"junk": [{},{},...]`, 3.7 MiB). Review 18 bounded a listen's id, which the stream
 * keeps for its life; but the connection's stream closures named the request, so each
 * stream held the whole of it: ~90 MB of heap per listen, 128 per connection
 * (server.max_inflight_per_session), from one unauthenticated client (16 held 1.4 GB; about
 * 45 reach node's heap limit). Now a stream keeps its id alone. Performed against a real
 * `mcpeg gateway`; the streams are still served and end with their id.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { spawnScriptGateway } from '../helpers/gateway.js';
import { MINIMAL_STDIO_BACKEND } from '../helpers/minimal-stdio-backend.js';

const BACKEND = MINIMAL_STDIO_BACKEND;

const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'listener', version: '1' },
};
const JUNK = `[${'{},'.repeat(1_300_000)}{}]`;
const listenBody = (id: number) =>
  `{"jsonrpc":"2.0","id":${id},"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},"_meta":${JSON.stringify(META)},"junk":${JUNK}}}`;

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('review 20: listen streams on a legacy SSE connection keep their request', { timeout: 180_000 }, () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let origin: string;
  let sse: http.ClientRequest | undefined;
  let events = '';
  let arrived: (() => void) | undefined;

  before(async () => {
    const g = await spawnScriptGateway(BACKEND, 'mcpeg-review20-listen-');
    dir = g.dir;
    proc = g.proc;
    origin = new URL(g.url).origin;
  });
  after(() => {
    sse?.destroy();
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function until(what: string, ok: () => boolean): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`no ${what} on the SSE stream: ${events.slice(-500)}`);
      await new Promise<void>((r) => {
        arrived = r;
        setTimeout(r, 500);
      });
    }
  }

  it('16 listens with 3.7 MiB of params each: held with their id only, still served, each ended with its id', async () => {
    const endpoint = await new Promise<string>((resolve, reject) => {
      sse = http.get(`${origin}/sse`, { headers: { accept: 'text/event-stream' } }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          events += d;
          const m = /event: endpoint\ndata: (\S+)/.exec(events);
          if (m) resolve(m[1]!);
          arrived?.();
        });
      });
      sse.on('error', reject);
    });
    const post = async (body: string) => (await fetch(origin + endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status;
    await new Promise((r) => setTimeout(r, 500));
    const start = rssMb(proc!.pid!);
    const N = 16;
    for (let i = 0; i < N; i++) assert.equal(await post(listenBody(i)), 202);
    await until(`${N} acknowledgements`, () => (events.match(/notifications\/subscriptions\/acknowledged/g) ?? []).length === N);
    const grown = rssMb(proc!.pid!) - start;
    // Parsing 16 bodies leaves garbage V8 may keep for a while (~200-300 MB, once 607 MB on a busy machine);
    // 16 kept requests were ~1.4 GB.
    assert.ok(grown < 900, `the gateway grew by ${Math.round(grown)} MB holding ${N} listen streams`);

    // Each stream still ends, by its id: a cancel gets its final result.
    for (let i = 0; i < N; i++) {
      assert.equal(await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: i } })), 202);
    }
    await until(`${N} final results`, () => (events.match(/"resultType":"complete"/g) ?? []).length === N);
    for (let i = 0; i < N; i++) assert.ok(events.includes(`"id":${i},"result":{"resultType":"complete"`), `stream ${i} ended with its id`);
    assert.equal(proc!.exitCode, null);
  });
});
