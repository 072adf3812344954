/**
 * Streamable HTTP on the wire: resumable SSE (event ids, Last-Event-ID), the GET stream,
 * batches where the version allows them, and down-translation for older clients.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { answerOf, everythingStdio, rawSession, readSse, startGateway, waitFor } from '../helpers/gateway.js';

describe('Streamable HTTP transport', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;

  before(async () => {
    gw = await startGateway({ backends: { everything: everythingStdio() } });
  });
  after(async () => gw?.close());

  it('answers a plain call with JSON, and switches to SSE when progress must stream first', async () => {
    const s = await rawSession(gw.url);
    const plain = await s.post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'j' } } });
    assert.equal(plain.headers.get('content-type'), 'application/json');
    assert.equal(((await plain.json()) as { id: number }).id, 1);
    const streamed = await s.post({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'everything__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 }, _meta: { progressToken: 'tok-1' } },
    });
    assert.equal(streamed.headers.get('content-type'), 'text/event-stream');
    const events = [];
    for await (const e of readSse(streamed)) events.push(e);
    const messages = events.map((e) => JSON.parse(e.data));
    const progress = messages.filter((m) => m.method === 'notifications/progress');
    assert.ok(progress.length >= 2);
    assert.ok(
      progress.every((p) => p.params.progressToken === 'tok-1'),
      'client token restored',
    );
    assert.equal(messages.at(-1).id, 2);
    assert.ok(
      events.every((e) => e.id),
      'every SSE event has an id',
    );
  });

  it('primes each SSE stream of a 2025-11-25 session with an id and a retry interval', async () => {
    const s = await rawSession(gw.url, '2025-11-25');
    const res = await s.post({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'everything__trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 }, _meta: { progressToken: 1 } },
    });
    const it1 = readSse(res, { includeEmpty: true });
    const first = await it1.next();
    assert.equal(first.value?.data, '');
    assert.ok(first.value?.id);
    assert.equal(first.value?.retry, '1000');
    await it1.return(undefined);
    const old = await rawSession(gw.url, '2025-06-18');
    const res2 = await old.post({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'everything__trigger-long-running-operation', arguments: { duration: 0.2, steps: 2 }, _meta: { progressToken: 1 } },
    });
    const it2 = readSse(res2, { includeEmpty: true });
    const first2 = await it2.next();
    assert.notEqual(first2.value?.data, '', 'no priming event before 2025-11-25');
    await it2.return(undefined);
  });

  it('replays what a dropped stream missed on GET with Last-Event-ID, then the response', async () => {
    const s = await rawSession(gw.url);
    const ac = new AbortController();
    const res = await s.post(
      {
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'everything__trigger-long-running-operation', arguments: { duration: 1.5, steps: 5 }, _meta: { progressToken: 'p' } },
      },
      { signal: ac.signal },
    );
    let lastId: string | undefined;
    for await (const e of readSse(res)) {
      lastId = e.id;
      break; // read one event, then drop the connection
    }
    ac.abort();
    assert.ok(lastId);
    await new Promise((r) => setTimeout(r, 600));
    const resumed = await s.get({ 'last-event-id': lastId! });
    assert.equal(resumed.status, 200);
    const got = [];
    for await (const e of readSse(resumed)) {
      const m = JSON.parse(e.data);
      got.push(m);
      if (m.id === 7) break;
    }
    const final = got.at(-1);
    assert.equal(final.id, 7, 'the response arrived on the resumed stream');
    assert.match(JSON.stringify(final.result), /completed/i);
    const seen = got.filter((m) => m.method === 'notifications/progress').map((m) => m.params.progress);
    assert.ok(seen.length >= 1, 'missed progress events were replayed');
    assert.ok(
      seen.every((p: number) => p > 0),
      `no event before Last-Event-ID was replayed: ${seen}`,
    );
  });

  it('delivers server-initiated messages on the GET stream and allows one GET stream per session', async () => {
    const s = await rawSession(gw.url);
    await s.post({ jsonrpc: '2.0', id: 1, method: 'logging/setLevel', params: { level: 'debug' } });
    const ac = new AbortController();
    const stream = await s.get({}, { signal: ac.signal });
    assert.equal(stream.status, 200);
    const second = await s.get();
    assert.equal(second.status, 409);
    await s.post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'everything__toggle-simulated-logging', arguments: {} } });
    let log: { method: string; params: { logger: string } } | undefined;
    for await (const e of readSse(stream)) {
      const m = JSON.parse(e.data);
      if (m.method === 'notifications/message') {
        log = m;
        break;
      }
    }
    ac.abort();
    assert.ok(log);
    assert.match(log.params.logger, /^everything/);
    await s.post({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'everything__toggle-simulated-logging', arguments: {} } });
  });

  it('accepts JSON-RPC batches from 2025-03-26 clients and answers with an array', async () => {
    const s = await rawSession(gw.url, '2025-03-26');
    const res = await s.post([
      { jsonrpc: '2.0', id: 'a', method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
      { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'batched' } } },
    ]);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Array<{ id: string; result: { content?: Array<{ text: string }> } }>;
    assert.ok(Array.isArray(body));
    assert.deepEqual(body.map((r) => r.id).sort(), ['a', 'b']);
    assert.equal(body.find((r) => r.id === 'b')!.result.content![0].text, 'Echo: batched');
  });

  it('answers every request of a batch when the stream turns to SSE after some answers are ready', async () => {
    const s = await rawSession(gw.url, '2025-03-26');
    const res = await s.post([
      { jsonrpc: '2.0', id: 'quick', method: 'ping' },
      {
        jsonrpc: '2.0',
        id: 'slow',
        method: 'tools/call',
        params: { name: 'everything__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 }, _meta: { progressToken: 'b' } },
      },
    ]);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const ids: string[] = [];
    for await (const e of readSse(res)) {
      const m = JSON.parse(e.data);
      if (m.id !== undefined) ids.push(m.id);
    }
    assert.deepEqual(ids.sort(), ['quick', 'slow']);
  });

  it('does not answer a request the client cancelled', async () => {
    const s = await rawSession(gw.url);
    const pending = s.post({
      jsonrpc: '2.0',
      id: 'c1',
      method: 'tools/call',
      params: { name: 'everything__trigger-long-running-operation', arguments: { duration: 10, steps: 2 } },
    });
    await new Promise((r) => setTimeout(r, 300));
    const cancel = await s.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'c1', reason: 'test' } });
    assert.equal(cancel.status, 202);
    const res = await pending;
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.ok(!body.includes('"c1"'), `no answer for the cancelled request: ${body}`);
    // The session goes on.
    const after = await s.post({ jsonrpc: '2.0', id: 2, method: 'ping' });
    assert.equal(after.status, 200);
  });

  it('translates content newer than the client version (resource_link for 2025-03-26)', async () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'everything__get-resource-links', arguments: { count: 2 } } };
    const old = await rawSession(gw.url, '2025-03-26');
    const oldBody = (await answerOf(await old.post(call), 1)) as { result: { content: Array<{ type: string; text?: string }> } };
    assert.ok(oldBody.result.content.every((c) => c.type !== 'resource_link'));
    assert.ok(oldBody.result.content.some((c) => c.type === 'text' && c.text!.startsWith('Resource link:')));
    const current = await rawSession(gw.url, '2025-11-25');
    const newBody = (await answerOf(await current.post(call), 1)) as { result: { content: Array<{ type: string }> } };
    assert.ok(newBody.result.content.some((c) => c.type === 'resource_link'));
  });

  it('negotiates each supported version and answers an unknown one with its latest', async () => {
    for (const v of ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']) {
      assert.equal((await rawSession(gw.url, v)).initResult.protocolVersion, v);
    }
    assert.equal((await rawSession(gw.url, '2030-01-01').catch(() => undefined))?.initResult.protocolVersion ?? '2025-11-25', '2025-11-25');
  });

  it("closes the client's backend session (its stdio child) when the client ends the session", async () => {
    const b = gw.gw.registry.backend('everything')!;
    const s = await rawSession(gw.url);
    await s.post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'open' } } });
    const withClient = b.pids();
    const del = await fetch(gw.url, { method: 'DELETE', headers: s.headers });
    assert.equal(del.status, 200);
    await waitFor(() => b.pids().length === withClient.length - 1, 'the per-client child to be closed');
  });
});
