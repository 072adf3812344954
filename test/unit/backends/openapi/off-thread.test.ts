/**
 * The OpenAPI document loader's worker (off-thread.ts), against a real node:http document
 * server: a load past its wall-clock bound is stopped (its worker terminated: the fetch's
 * connection closes) with a message naming the backend and the document; a load whose
 * backend stopped is abandoned the same way; loads wait for one of the two workers, which
 * a stopped one gives back.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadOffThread, MAX_LOADERS } from '../../../../src/backends/openapi/off-thread.js';
import type { OpenApiToolsInput } from '../../../../src/backends/openapi/tools.js';

const DOC = "openapi: 3.0.3\ninfo: {title: ok, version: '1'}\npaths:\n  /p:\n    get:\n      operationId: p\n      responses: {'200': {description: ok}}\n";

describe('the OpenAPI document loader (worker thread)', { timeout: 60_000 }, () => {
  let server: Server;
  let api: string;
  /** Fetches of /hang still open. */
  const hanging = new Set<IncomingMessage>();
  /** How many of them were open when /ok.yaml was last fetched. */
  let hangingAtOk = -1;

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok.yaml') {
        hangingAtOk = hanging.size;
        return res.end(DOC);
      }
      // Never answered: the worker waits in its fetch until it is stopped.
      hanging.add(req);
      req.socket.once('close', () => hanging.delete(req));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const input = (name: string, path: string): OpenApiToolsInput => ({
    name,
    spec: `${api}${path}`,
    baseDir: '/',
    baseUrl: api,
    credentials: { headers: {}, query: {} },
    remoteRefs: false,
    timeoutMs: 60_000,
    outputSchemas: true,
  });
  const closed = async () => {
    const end = Date.now() + 5000;
    while (hanging.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return hanging.size === 0;
  };

  it('stops a load past its time and names the backend and the document', async () => {
    const reply = await loadOffThread(input('slow', '/hang'), undefined, 1500);
    assert.equal(reply.ok, false);
    assert.equal(!reply.ok && reply.message, `backend "slow": ${api}/hang: loading, checking and converting the OpenAPI document took longer than 1.5 s; the load was stopped`);
    assert.ok(await closed(), 'the worker was terminated: its fetch is closed');
  });

  it('abandons the load of a backend that stopped', async () => {
    const stop = new AbortController();
    const t0 = Date.now();
    setTimeout(() => stop.abort(), 500);
    const reply = await loadOffThread(input('gone', '/hang'), stop.signal);
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(!reply.ok && reply.message, `backend "gone": ${api}/hang: the load was abandoned: the backend stopped`);
    assert.ok(await closed(), 'the worker was terminated: its fetch is closed');
  });

  it('runs two loads at once; the next waits for a worker to be given back', async () => {
    assert.equal(MAX_LOADERS, 2);
    const slow = [loadOffThread(input('a', '/hang'), undefined, 5000), loadOffThread(input('b', '/hang'), undefined, 5000)];
    const end = Date.now() + 4000;
    while (hanging.size < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const done = await loadOffThread(input('c', '/ok.yaml'));
    assert.ok(done.ok, !done.ok ? done.message : '');
    assert.deepEqual(Object.keys(done.tools), ['p']);
    // Its worker started once theirs had been stopped: their fetches were closed when it fetched.
    assert.equal(hangingAtOk, 0);
    for (const r of await Promise.all(slow)) assert.equal(r.ok, false);
  });
});
