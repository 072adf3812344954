/**
 * Attack: 2026-07-28 `subscriptions/listen` streams whose request id is a string as long as
 * a body may be (4 MiB). A listen stream lasts as long as its client keeps it open, holds
 * no session, and keeps its request's id: every notification it carries is tagged with it.
 * Nothing bounded the id's length (review 12 bounded the envelope's clientInfo and
 * capabilities), so each stream held 4 MB of the gateway's heap for its life: 150 streams
 * held ~600 MB, and the 10,000 that `server.max_sessions` lets open are far past node's heap
 * limit (~4 GB here: about 1,000 streams end the process), from one unauthenticated address.
 * Now a listen request's id is at most 1,024 characters; longer is refused (HTTP 400,
 * -32600) and holds nothing. Performed against a real `mcpeg gateway`.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { spawnScriptGateway } from '../helpers/gateway.js';
import { MINIMAL_STDIO_BACKEND } from '../helpers/minimal-stdio-backend.js';

const BACKEND = MINIMAL_STDIO_BACKEND;

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': 'subscriptions/listen',
};
const META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'listener', version: '1' },
};
const listenBody = (id: string | number) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: META } });

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('review 18: subscriptions/listen streams with ids of megabytes', { timeout: 120_000 }, () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let url: string;
  const streams = new AbortController();

  before(async () => {
    const g = await spawnScriptGateway(BACKEND, 'mcpeg-review18-listen-');
    dir = g.dir;
    proc = g.proc;
    url = g.url;
  });
  after(() => {
    streams.abort();
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens a listen stream; resolves with the status, and for a stream, after its acknowledgement was read (the stream stays open). */
  async function listen(body: string): Promise<{ status: number; code?: number }> {
    const res = await fetch(url, { method: 'POST', headers: HEADERS, body, signal: streams.signal });
    if (res.status !== 200) return { status: res.status, code: ((await res.json()) as { error?: { code: number } }).error?.code };
    // The acknowledgement is one event, as long as the id: read to its end without parsing it.
    const reader = res.body!.getReader();
    let head = '';
    let tail = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const text = Buffer.from(value).toString('latin1');
      if (head.length < 200) head += text.slice(0, 200);
      tail = (tail + text).slice(-2);
      if (tail === '\n\n') break;
    }
    assert.ok(head.includes('notifications/subscriptions/acknowledged'), head);
    return { status: 200 };
  }

  it('are refused; the gateway holds none of them, and a listener with a short id is served', async () => {
    assert.deepEqual(await listen(listenBody(1)), { status: 200 });
    const start = rssMb(proc!.pid!);
    const body = listenBody(`listen-${'x'.repeat(4_000_000)}`);
    let held = 0;
    for (let i = 0; i < 150; i++) {
      const r = await listen(body);
      if (r.status === 200) held++;
      else assert.deepEqual(r, { status: 400, code: -32600 });
    }
    const grown = rssMb(proc!.pid!) - start;
    assert.equal(held, 0, `${held} listen streams with 4 MB ids were held open (the gateway grew by ${Math.round(grown)} MB)`);
    // Parsing 150 bodies of 4 MB leaves garbage V8 may keep; 150 kept ids were ~600 MB.
    assert.ok(grown < 300, `the gateway grew by ${Math.round(grown)} MB`);
    assert.deepEqual(await listen(listenBody(`listen-${'y'.repeat(1024 - 'listen-'.length)}`)), { status: 200 });
    assert.equal(proc!.exitCode, null);
  });
});
