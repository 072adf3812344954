/** The lean Streamable HTTP client transport against a real socket. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { it } from 'node:test';
import { AnswerTooLargeError, StreamableHttpClient } from '../../../../src/transport/outbound/http-transport.js';
import { RawJson } from '../../../../src/wire/raw-json.js';

it('keeps a UTF-8 character that an SSE answer splits across two chunks (regression)', async () => {
  const event = Buffer.from(`data: ${JSON.stringify({ jsonrpc: '2.0', id: 1, result: { text: 'café ☕' } })}\n\n`);
  const cut = event.indexOf(Buffer.from('☕')) + 1; // inside the 3-byte character
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(event.subarray(0, cut));
    setTimeout(() => res.end(event.subarray(cut)), 50);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp?token=secret`), {});
  const got = new Promise<unknown>((resolve) => (t.onmessage = resolve));
  try {
    await t.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.deepEqual(((await got) as { result: unknown }).result, { text: 'café ☕' });
  } finally {
    await t.close();
    server.close();
  }
});

it('names the backend without its query string (which may hold credentials) in errors', async () => {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(500).end('boom');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp?api_key=s3cret`), {});
  try {
    await assert.rejects(t.send({ jsonrpc: '2.0', id: 1, method: 'ping' }), (err: Error & { code?: number }) => {
      assert.equal(err.code, 500);
      assert.match(err.message, /HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/mcp: boom/);
      assert.ok(!err.message.includes('s3cret'));
      return true;
    });
  } finally {
    await t.close();
    server.close();
  }
});

it('hands a JSON result over as its bytes only to a reader that opted in (rawResults), whatever its size; everything else parsed', async () => {
  const big = `{"content":[{"type":"text","text":"${'x'.repeat(40_000)}"}]}`;
  let body = '';
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  const next = () => new Promise<{ id: unknown; result: unknown }>((resolve) => (t.onmessage = resolve as never));
  try {
    body = `{"jsonrpc":"2.0","id":1,"result":${big}}`;
    let got = next();
    await t.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.deepEqual((await got).result, JSON.parse(big), 'no opt-in: parsed');
    t.rawResults = true;
    for (const result of [big, '{"small":true}', '{}']) {
      body = `{"jsonrpc":"2.0","id":1,"result":${result}}`;
      got = next();
      await t.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
      const m = await got;
      assert.ok(m.result instanceof RawJson);
      assert.equal(m.id, 1);
      assert.equal(m.result.text(), result);
    }
    // Answers that are not a plain result response are parsed as before.
    for (const b of [
      `{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"${'m'.repeat(40_000)}"}}`,
      '{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"small"}}',
      '{"jsonrpc":"2.0","id":1,"result":{"a":1},"extra":true}',
    ]) {
      body = b;
      got = next();
      await t.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
      assert.deepEqual(await got, JSON.parse(b));
    }
  } finally {
    await t.close();
    server.close();
  }
});

it('refuses a JSON answer over 64 MiB, and stops reading it', async () => {
  let sent = 0;
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    const mib = Buffer.alloc(1 << 20, 0x20);
    const more = () => {
      // Whitespace forever (chunked, no Content-Length): only the cap ends it.
      while (sent < 200 && !res.destroyed) {
        sent++;
        if (!res.write(mib)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  t.rawResults = true;
  try {
    await assert.rejects(t.send({ jsonrpc: '2.0', id: 1, method: 'ping' }), /larger than 67108864 bytes/);
    assert.ok(sent < 100, `the gateway read on: ${sent} MiB sent`);
  } finally {
    await t.close();
    server.close();
  }
});

it('stops reading an SSE event that passes 64 MiB without ending (a backend cannot grow the gateway without bound)', async () => {
  let sent = 0;
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: ');
    const mib = Buffer.alloc(1 << 20, 0x78);
    const more = () => {
      // One data line forever (no line break, no blank line): only the cap ends it.
      while (sent < 200 && !res.destroyed) {
        sent++;
        if (!res.write(mib)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  t.rawResults = true;
  const errors: string[] = [];
  // The request whose answer it was fails (the call's error, -32034 at the connection), not the transport.
  const failed = new Promise<void>((resolve) => {
    t.onRequestFailed = (id, e) => {
      assert.ok(e instanceof AnswerTooLargeError);
      errors.push(`${id}: ${e.message}`);
      resolve();
    };
  });
  t.onerror = (e) => errors.push(`transport: ${e.message}`);
  try {
    await t.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    await Promise.race([failed, new Promise((r) => setTimeout(r, 20_000).unref())]);
    assert.match(errors[0] ?? '', /^1: an SSE event from .* is larger than 67108864 bytes/);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(sent < 100, `the gateway read on: ${sent} MiB sent`);
  } finally {
    await t.close();
    server.close();
  }
});

it('fails a request at once when its application/json answer is empty, instead of leaving it to time out', async () => {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(' \n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  try {
    await assert.rejects(t.send({ jsonrpc: '2.0', id: 7, method: 'ping' }), /holds no response to request 7/);
    // A notification needs no answer: an empty body is fine.
    await t.send({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } });
  } finally {
    await t.close();
    server.close();
  }
});

it('reads an error answer only as far as its message shows, then stops (a backend cannot make the gateway read an endless 500)', async () => {
  let sent = 0;
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(500, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const more = () => {
      while (sent < 2000 && !res.destroyed) {
        sent++;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  try {
    await assert.rejects(t.send({ jsonrpc: '2.0', id: 1, method: 'ping' }), (err: Error & { code?: number }) => {
      assert.equal(err.code, 500);
      assert.equal(err.message, `HTTP 500 from http://127.0.0.1:${port}/mcp: ${'a'.repeat(4096)}`);
      return true;
    });
    assert.ok(sent < 1000, `the gateway read on: ${sent} chunks of 64 KiB sent`);
  } finally {
    await t.close();
    server.close();
  }
});

it('takes the session id of an answer, waits for a 202 to end, and fails a request answered with another content type', async () => {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const m = JSON.parse(Buffer.concat(chunks).toString()) as { method: string; id?: number };
      if (m.id === undefined) res.writeHead(202, { 'mcp-session-id': 'sess-1' }).end('ignored body');
      else res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<p>hi</p>');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  try {
    await t.send({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' });
    assert.equal(t.sessionId, 'sess-1');
    await assert.rejects(t.send({ jsonrpc: '2.0', id: 2, method: 'ping' }), /unexpected content type "text\/html" \(HTTP 200\) from/);
  } finally {
    await t.close();
    server.close();
  }
});

it('stops a POST still waiting for its answer, and its SSE stream, when the transport closes', async () => {
  const open = new Set<import('node:http').ServerResponse>();
  let closed = 0;
  const server = createServer((req, res) => {
    req.resume();
    open.add(res);
    res.on('close', () => closed++);
    if (req.headers['x-stream'] === '1') res.writeHead(200, { 'content-type': 'text/event-stream' }).write(': open\n\n');
    // else: never answers
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const waiting = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  const streaming = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), { 'x-stream': '1' });
  try {
    const pending = waiting.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    await streaming.send({ jsonrpc: '2.0', id: 1, method: 'ping' }); // resolves once the stream's headers are in
    while (open.size < 2) await new Promise((r) => setTimeout(r, 10));
    await waiting.close();
    const late = new Promise((r) => setTimeout(r, 5000, 'still pending 5 s after close'));
    await assert.rejects(Promise.race([pending, late.then((m) => ({ late: m }))]));
    await streaming.close();
    const deadline = Date.now() + 5000;
    while (closed < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(closed, 2, 'both requests were ended on the backend side');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

it('abortRequest stops the POST of an abandoned request: its SSE answer is neither read on nor resumed, and no error is reported', async () => {
  const seen: string[] = [];
  let closed!: () => void;
  const socketClosed = new Promise<void>((r) => (closed = r));
  const server = createServer((req, res) => {
    req.resume();
    seen.push(req.method!);
    if (req.method !== 'POST') return void res.writeHead(405).end();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    // An event with an id (the stream could be resumed), then nothing more.
    res.write('id: e1\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\n\n');
    res.once('close', () => closed());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  const errors: string[] = [];
  t.onerror = (e) => errors.push(e.message);
  const first = new Promise<void>((r) => (t.onmessage = () => r()));
  try {
    await t.send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'slow' } });
    await first;
    t.abortRequest(7);
    await Promise.race([socketClosed, new Promise((_, j) => setTimeout(() => j(new Error('the POST was not aborted')), 2000))]);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(seen, ['POST'], 'no GET resumed the abandoned answer');
    assert.deepEqual(errors, []);
  } finally {
    await t.close();
    server.close();
  }
});

it('abortRequest fails a POST still waiting for its headers at once', async () => {
  const server = createServer((req) => req.resume());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  try {
    const sent = t.send({ jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'slow' } });
    await new Promise((r) => setTimeout(r, 100));
    t.abortRequest('a');
    await assert.rejects(sent, /request "a" abandoned by the gateway/);
  } finally {
    await t.close();
    server.closeAllConnections();
    server.close();
  }
});

it('abortRequest stops the GET that resumes an abandoned request’s SSE answer', async () => {
  const seen: string[] = [];
  let closed!: () => void;
  const getClosed = new Promise<void>((r) => (closed = r));
  const server = createServer((req, res) => {
    req.resume();
    seen.push(req.method!);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (req.method === 'POST') {
      // An event with an id, then the stream ends before the response: the transport resumes it.
      res.end('id: e1\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\n\n');
      return;
    }
    // The resumed stream: headers, a comment, then nothing more.
    res.write(': resumed\n\n');
    res.once('close', () => closed());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  const errors: string[] = [];
  t.onerror = (e) => errors.push(e.message);
  t.onmessage = () => {};
  try {
    await t.send({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'slow' } });
    const deadline = Date.now() + 2000;
    while (!seen.includes('GET') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen, ['POST', 'GET']);
    await new Promise((r) => setTimeout(r, 50));
    t.abortRequest(8);
    await Promise.race([getClosed, new Promise((_, j) => setTimeout(() => j(new Error('the resuming GET was not aborted')), 2000))]);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(errors, []);
  } finally {
    await t.close();
    server.close();
  }
});

it('abortRequest between the end of a POST’s SSE answer and its resumption: no GET is sent for the abandoned request', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    seen.push(req.method!);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (req.method === 'POST') {
      // An event with an id and the end of the stream in one write: the POST is over when the event is read.
      res.end('id: e1\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\n\n');
      return;
    }
    // A resumed stream the backend never ends: nothing would stop it.
    res.write(': resumed\n\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  const errors: string[] = [];
  t.onerror = (e) => errors.push(e.message);
  // The call is abandoned (timeout, cancel) as its answer's first event is read: the POST has ended, the GET not begun.
  const read = new Promise<void>((r) => {
    t.onmessage = () => {
      t.abortRequest(9);
      r();
    };
  });
  try {
    await t.send({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'slow' } });
    await read;
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(seen, ['POST'], 'no GET resumed the abandoned answer');
    assert.deepEqual(errors, []);
  } finally {
    await t.close();
    server.closeAllConnections();
    server.close();
  }
});

it('abortRequest of a request already answered is a no-op: the next request on the same keep-alive socket is not touched', async () => {
  const sockets = new Set<unknown>();
  let closes = 0;
  const server = createServer((req, res) => {
    sockets.add(req.socket);
    if (!req.socket.listenerCount('close')) req.socket.on('close', () => closes++);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const m = JSON.parse(Buffer.concat(chunks).toString()) as { id: number };
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { n: m.id } }));
      // The second request is answered late: the abort of the first comes while it is in flight.
      if (m.id === 2) setTimeout(answer, 300);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  const got: unknown[] = [];
  t.onmessage = (m) => got.push((m as { id?: unknown }).id);
  try {
    await t.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.deepEqual(got, [1]);
    // The pool takes the socket back once undici has finished with the first answer.
    await new Promise((r) => setTimeout(r, 50));
    const second = t.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
    await new Promise((r) => setTimeout(r, 100));
    t.abortRequest(1);
    t.abortRequest(1);
    await second;
    assert.deepEqual(got, [1, 2]);
    assert.equal(sockets.size, 1, 'both on one keep-alive socket');
    assert.equal(closes, 0, 'the socket was not closed');
  } finally {
    await t.close();
    server.closeAllConnections();
    server.close();
  }
});

it('ends a session whose backend never answers the DELETE within seconds, closing its GET stream (regression)', { timeout: 20_000 }, async () => {
  // A backend that opens the session and its GET stream, and leaves the DELETE that ends it unanswered.
  let getClosed: Promise<void> | undefined;
  let deleted = false;
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      getClosed = new Promise((r) => res.on('close', () => r()));
      res.writeHead(200, { 'content-type': 'text/event-stream' }).write(': open\n\n');
      return;
    }
    if (req.method === 'DELETE') {
      deleted = true;
      return; // never answered
    }
    let body = '';
    req
      .on('data', (c: Buffer) => (body += c))
      .on('end', () => {
        const m = JSON.parse(body) as { id?: number };
        if (m.id === undefined) return void res.writeHead(202).end();
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: {} }));
      });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const t = new StreamableHttpClient(new URL(`http://127.0.0.1:${port}/mcp`), {});
  t.onmessage = () => {};
  try {
    await t.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
    await t.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    while (!getClosed) await new Promise((r) => setTimeout(r, 10));
    // As BackendConnection.close() does: DELETE, then close.
    const started = Date.now();
    const ended = (async () => {
      await t.terminateSession();
      await t.close();
    })();
    const gaveUp = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000).unref());
    assert.notEqual(await Promise.race([ended.then(() => 'ended' as const), gaveUp]), 'hung', 'the session never closed: its DELETE is still waiting');
    assert.ok(deleted, 'the DELETE was sent');
    assert.ok(Date.now() - started < 9000);
    await getClosed;
  } finally {
    await t.close();
    server.closeAllConnections();
    server.close();
  }
});
