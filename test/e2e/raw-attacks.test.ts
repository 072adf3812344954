/**
 * A hostile HTTP backend against the byte path of results (wire/raw-json.ts) and the
 * dispatch handler that reads a POST's answer (transport/outbound/post-answer.ts): crafted
 * bytes must reach the client as the parse path would have given them (or as -32031), and
 * bodies without end must not keep the gateway's memory or the socket.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { answerOf, rawSession, startGateway } from '../helpers/gateway.js';

type Msg = { id?: number | string; method?: string; params?: { name?: string } };

const text = (t: string) => `{"content":[{"type":"text","text":${JSON.stringify(t)}}]}`;
const env = (id: string, result: string) => `{"jsonrpc":"2.0","id":${id},"result":${result}}`;

/** Crafted JSON bodies (application/json answers), by tool name; `id` is the request's id as JSON text. */
const JSON_BODIES: Record<string, (id: string) => Buffer> = {
  // After the blank lines, what would read as a forged SSE event if the line breaks went through as they are.
  crlf: (id) => Buffer.from(`{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"a"}]\r\n\r\n,"y"\n:\r\n2\r\n\r\n,"x":1\n}}`),
  second_message: (id) => Buffer.from(`${env(id, text('first'))}\n${env(id, text('evil'))}`),
  duplicate_id: (id) => Buffer.from(`{"jsonrpc":"2.0","id":${id},"result":${text('dup')},"id":"someone-else"}`),
  error_beside: (id) => Buffer.from(`{"jsonrpc":"2.0","id":${id},"result":${text('both')},"error":{"code":-1,"message":"m"}}`),
  version_1: (id) => Buffer.from(`{"jsonrpc":"1.0","id":${id},"result":${text('v1')}}`),
  bad_utf8: (id) =>
    Buffer.concat([Buffer.from(`{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"a`), Buffer.from([0xff, 0xc0, 0xaf]), Buffer.from('b"}]}}')]),
  utf8_surrogate: (id) =>
    Buffer.concat([Buffer.from(`{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"a`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('b"}]}}')]),
  escaped_surrogate: (id) => Buffer.from(`{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"a\\ud800b"}]}}`),
  bom: (id) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(env(id, text('bom')))]),
  proto_member: (id) => Buffer.from(`{"jsonrpc":"2.0","id":${id},"result":${text('proto')},"__proto__":{"x":1}}`),
  inner_proto: (id) => Buffer.from(env(id, `{"content":[{"type":"text","text":"p"}],"__proto__":{"polluted":1},"k":1,"k":2}`)),
  deep: (id) => Buffer.from(env(id, `{"content":[{"type":"text","text":"deep"}],"d":${'['.repeat(600)}${']'.repeat(600)}}`)),
  very_deep: (id) => Buffer.from(env(id, `{"content":[{"type":"text","text":"deep"}],"d":${'['.repeat(200_000)}${']'.repeat(200_000)}}`)),
  u2028: (id) => Buffer.from(env(id, text('a\u2028b\u2029c'))),
  escaped_id_string: (id) => Buffer.from(`{"jsonrpc":"2.0","id":"\\u0031${id}","result":${text('esc')}}`),
};

/**
 * Long strings (more than 64 plain bytes: the scan jumps to the next quote, backslash or
 * control byte, positions remembered), the result first so that every answer puts its text
 * at the same byte offsets whatever the id: `jump_plain` leaves the scan's next quote at the
 * closing quote of 1000 plain bytes; `jump_stale` has a raw control byte before a quote at
 * that very offset, which positions carried over from one answer to the next would skip.
 */
const LONG = 1000;
const resultFirst = (id: string, textJson: string) => `{"result":{"content":[{"type":"text","text":${textJson}}]},"jsonrpc":"2.0","id":${id}}`;
/** Backslash runs of every length before a quote, across the jump: valid JSON (JSON.stringify escapes them). */
const BACKSLASHES = Array.from({ length: 9 }, (_, n) => `${'a'.repeat(70 + n)}${'\\'.repeat(n)}"${'b'.repeat(70)}`).join('|');
Object.assign(JSON_BODIES, {
  jump_plain: (id: string) => Buffer.from(resultFirst(id, `"${'x'.repeat(LONG)}"`)),
  jump_stale: (id: string) => Buffer.from(resultFirst(id, `"${`${'y'.repeat(70)}\u0001`.padEnd(LONG, 'y')}"`)),
  jump_backslashes: (id: string) => Buffer.from(resultFirst(id, JSON.stringify(BACKSLASHES))),
  // An odd run of backslashes escapes the would-be closing quote: the string never ends.
  jump_escaped_end: (id: string) => Buffer.from(resultFirst(id, `"${'c'.repeat(100)}\\\\\\"`)),
  // Overlong and truncated UTF-8 after the jump: replaced (U+FFFD) as on the parse path.
  jump_overlong: (id: string) =>
    Buffer.concat([
      Buffer.from(`{"result":{"content":[{"type":"text","text":"${'d'.repeat(100)}`),
      Buffer.from([0xc0, 0xaf, 0xe2, 0x98]),
      Buffer.from(`e"}]},"jsonrpc":"2.0","id":${id}}`),
    ]),
  // The answer ends inside a long string.
  jump_truncated: (id: string) => Buffer.from(`{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"${'f'.repeat(300)}`),
});
/** A raw control byte (0x00-0x1f, 0x7f is no control for JSON) at each offset around the jump and the word boundaries after it. */
const JUMP_CONTROL_AT = Array.from({ length: 16 }, (_, k) => 60 + k);
for (const at of JUMP_CONTROL_AT) {
  const c = String.fromCharCode(at % 32);
  JSON_BODIES[`jump_ctl_${at}`] = (id) => Buffer.from(resultFirst(id, `"${'g'.repeat(at)}${c}${'g'.repeat(200)}"`));
  JSON_BODIES[`jump_del_${at}`] = (id) => Buffer.from(resultFirst(id, `"${'g'.repeat(at)}\u007f${'g'.repeat(200)}"`));
}

/** The same crafted answers as SSE events (CR-only framing, a result split over data lines). */
const SSE_BODIES: Record<string, (id: string) => string> = {
  sse_cr_split: (id) => `data: {"jsonrpc":"2.0","id":${id},\rdata: "result":{"content":[{"type":"text",\rdata: "text":"split"}]}}\r\r`,
  sse_u2028: (id) => `data: ${env(id, text('x\u2028y'))}\n\n`,
  sse_second_in_event: (id) => `data: ${env(id, text('one'))}\ndata: ${env(id, text('two'))}\n\n`,
};

/** Answers that never end: each must fail its call (or be dropped) and the backend must see its socket closed. */
const ENDLESS = ['endless_json', 'endless_error', 'endless_text', 'endless_202', 'endless_sse_event'] as const;
const TOOLS = [...Object.keys(JSON_BODIES), ...Object.keys(SSE_BODIES), ...ENDLESS, 'slow_sse'];

const closed = new Map<string, Promise<void>>();

function endless(res: ServerResponse, status: number, type: string, prefix: string): void {
  res.writeHead(status, { 'content-type': type });
  res.write(prefix);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const pump = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', pump);
  };
  pump();
}

function handle(res: ServerResponse, m: Msg): void {
  const id = JSON.stringify(m.id);
  const json = (body: string | Buffer) => void res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' }).end(body);
  if (m.id === undefined) return void res.writeHead(202).end();
  if (m.method === 'initialize')
    return json(env(id, JSON.stringify({ protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'hostile', version: '1' } })));
  if (m.method === 'tools/list') return json(env(id, JSON.stringify({ tools: TOOLS.map((name) => ({ name, inputSchema: { type: 'object' } })) })));
  const name = m.params?.name ?? '';
  if (Object.hasOwn(JSON_BODIES, name)) return json(JSON_BODIES[name](id));
  if (Object.hasOwn(SSE_BODIES, name)) return void res.writeHead(200, { 'content-type': 'text/event-stream' }).end(SSE_BODIES[name](id));
  closed.set(name, new Promise((r) => res.once('close', () => r())));
  if (name === 'endless_json') return endless(res, 200, 'application/json', `{"jsonrpc":"2.0","id":${id},"result":{"t":"`);
  if (name === 'endless_error') return endless(res, 500, 'text/plain', 'oops ');
  if (name === 'endless_text') return endless(res, 200, 'text/plain', '');
  if (name === 'endless_202') return endless(res, 202, 'application/json', '');
  if (name === 'endless_sse_event') return endless(res, 200, 'text/event-stream', 'data: ');
  if (name === 'slow_sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const t = setInterval(() => res.write(': ping\n\n'), 50);
    res.once('close', () => clearInterval(t));
    return;
  }
  json(`{"jsonrpc":"2.0","id":${id},"error":{"code":-32601,"message":"no"}}`);
}

describe('a hostile backend against the byte path and the answer reader', () => {
  let backend: Server;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let url: string;

  before(async () => {
    backend = createServer((req, res) => {
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handle(res, JSON.parse(Buffer.concat(chunks).toString()) as Msg));
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const { port } = backend.address() as { port: number };
    gw = await startGateway({
      backends: { h: { type: 'mcp', url: `http://127.0.0.1:${port}/mcp`, timeout: '4s', circuit_breaker: { enabled: false } } },
    });
    url = `${gw.base}/servers/h/mcp`;
  });
  after(async () => {
    await gw?.close();
    backend?.closeAllConnections();
    backend?.close();
  });

  /** One tools/call over a raw session; the response (result or error) and the raw body text. */
  async function call(name: string, id: number | string = 7, accept?: string): Promise<Awaited<ReturnType<typeof answerOf>>> {
    // A backend whose session an answer broke (an error status) may be reconnected before its tools are offered again.
    for (let tries = 0; ; tries++) {
      const out = await callOnce(name, id, accept);
      if ((out.error as { data?: { mcpegCode?: string } } | undefined)?.data?.mcpegCode !== 'MCPEG_ERR_UNKNOWN_TOOL' || tries >= 100) return out;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  async function callOnce(name: string, id: number | string, accept?: string) {
    const s = await rawSession(url);
    await answerOf(await s.post({ jsonrpc: '2.0', id: 'list', method: 'tools/list' }), 'list');
    const res = await s.post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } }, accept ? { headers: { ...s.headers, accept } } : {});
    return answerOf(res, id);
  }
  /** A call whose answer is valid: a backend that just sent invalid JSON is reconnected first (unavailable meanwhile). */
  async function callUp(name: string): Promise<Awaited<ReturnType<typeof answerOf>>> {
    for (let tries = 0; ; tries++) {
      const out = await call(name);
      if ((out.error as { data?: { mcpegCode?: string } } | undefined)?.data?.mcpegCode !== 'MCPEG_ERR_BACKEND_UNAVAILABLE' || tries >= 100) return out;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const textIn = (r: { result?: unknown }) => ((r.result as { content?: Array<{ text?: string }> })?.content ?? []).map((c) => c.text).join('');

  it('line breaks between tokens of a result neither split the SSE event nor lose members', async () => {
    for (const accept of ['application/json, text/event-stream', 'text/event-stream, application/json']) {
      const r = await call('crlf', 'c1', accept);
      assert.equal(textIn(r), 'a');
      assert.equal((r.result as { x?: number; y?: number }).x, 1);
      assert.equal((r.result as { x?: number; y?: number }).y, 2);
    }
  });

  it('a second message after the answer never reaches the client as the answer', async () => {
    const r = await call('second_message');
    assert.ok(r.error !== undefined || textIn(r) === 'first', JSON.stringify(r));
    assert.notEqual(textIn(r), 'evil');
  });

  it('a duplicate id naming another request is no answer (-32031), as on the parse path', async () => {
    const r = await call('duplicate_id');
    assert.equal(r.error?.code, -32031, JSON.stringify(r));
  });

  it('an error beside a result, jsonrpc "1.0" or a __proto__ member never pass as a plain result', async () => {
    for (const name of ['error_beside', 'version_1', 'proto_member']) {
      const r = await call(name);
      // The parse path's reading: whatever it is, the client gets a JSON-RPC answer with its own id.
      assert.ok(r.error !== undefined || r.result !== undefined, `${name}: ${JSON.stringify(r)}`);
      if (name === 'error_beside' && r.result !== undefined) assert.fail(`error beside result relayed as a result: ${JSON.stringify(r)}`);
    }
  });

  it('invalid UTF-8 and UTF-8-encoded surrogates reach the client replaced (U+FFFD), as on the parse path', async () => {
    assert.equal(textIn(await call('bad_utf8')), new TextDecoder().decode(Buffer.from([0x61, 0xff, 0xc0, 0xaf, 0x62])));
    assert.equal(textIn(await call('utf8_surrogate')), new TextDecoder().decode(Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x62])));
    assert.equal(textIn(await call('escaped_surrogate')), 'a\ud800b');
    assert.equal(textIn(await call('bom')), 'bom');
    assert.equal(textIn(await call('u2028')), 'a\u2028b\u2029c');
  });

  it('members inside the result (__proto__, a repeated key) read as JSON.parse reads them', async () => {
    const r = (await call('inner_proto')).result as Record<string, unknown>;
    assert.equal(r.k, 2);
    assert.ok(Object.hasOwn(r, '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('a result nested deeper than the byte path takes is still answered (parse path), the gateway serving on', async () => {
    const r = await call('deep');
    assert.ok(r.error !== undefined || textIn(r) === 'deep', JSON.stringify(r).slice(0, 200));
    // Deeper than JSON.stringify can recurse: the call fails (or is answered), the gateway does not.
    const v = await call('very_deep');
    assert.ok(v.error !== undefined || textIn(v) === 'deep', JSON.stringify(v).slice(0, 200));
    assert.equal(textIn(await call('u2028')), 'a\u2028b\u2029c');
  });

  it('an id the gateway did not send (escaped) answers nothing: -32031', async () => {
    const r = await call('escaped_id_string');
    assert.equal(r.error?.code, -32031, JSON.stringify(r));
  });

  it('long strings skipped in jumps: a raw control byte after the jump fails the call, as on the parse path; 0x7f and valid escapes pass', async () => {
    for (const at of JUMP_CONTROL_AT) {
      const r = await call(`jump_ctl_${at}`);
      // Refused by the scan, then by JSON.parse (the parse path), whose words reach the client.
      assert.match(r.error?.message ?? '', /Bad control character/, `control byte at ${at}: ${JSON.stringify(r).slice(0, 200)}`);
      assert.equal(textIn(await callUp(`jump_del_${at}`)), `${'g'.repeat(at)}\u007f${'g'.repeat(200)}`);
    }
    assert.equal(textIn(await callUp('jump_backslashes')), BACKSLASHES);
    const open = await call('jump_escaped_end');
    assert.ok(open.error !== undefined && open.result === undefined, JSON.stringify(open).slice(0, 200));
    assert.equal(
      textIn(await callUp('jump_overlong')),
      new TextDecoder().decode(Buffer.concat([Buffer.from('d'.repeat(100)), Buffer.from([0xc0, 0xaf, 0xe2, 0x98]), Buffer.from('e')])),
    );
    const cut = await call('jump_truncated');
    assert.ok(cut.error !== undefined && cut.result === undefined, JSON.stringify(cut).slice(0, 200));
    await callUp('jump_plain'); // the backend is back for the next test
  });

  it('positions a long string left in one answer are not reused in the next: a control byte before the same offset fails the call', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal(textIn(await callUp('jump_plain')), 'x'.repeat(LONG));
      const r = await call('jump_stale');
      assert.match(r.error?.message ?? '', /Bad control character/, `stale positions: ${JSON.stringify(r).slice(0, 200)}`);
    }
    await callUp('jump_plain');
  });

  it('SSE answers: CR-only framing and a result split over data lines, U+2028, two messages in one event', async () => {
    assert.equal(textIn(await call('sse_cr_split')), 'split');
    assert.equal(textIn(await call('sse_u2028')), 'x\u2028y');
    const r = await call('sse_second_in_event');
    assert.ok(r.error !== undefined || !textIn(r).includes('two'), JSON.stringify(r));
  });

  for (const name of ENDLESS) {
    it(`${name}: an answer without end fails the call and the backend's socket is closed`, async () => {
      const started = Date.now();
      const r = await call(name);
      assert.ok(r.error !== undefined, JSON.stringify(r).slice(0, 200));
      await Promise.race([closed.get(name), new Promise((_, j) => setTimeout(() => j(new Error(`${name}: socket still open`)), 8000))]);
      assert.ok(Date.now() - started < 15_000);
    });
  }

  it('a session closed while its call reads an SSE answer: the backend socket is closed', async () => {
    const s = await rawSession(url);
    const ac = new AbortController();
    const pending = s.post({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'slow_sse', arguments: {} } }, { signal: ac.signal }).catch(() => undefined);
    const deadline = Date.now() + 5000;
    while (!closed.has('slow_sse') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await fetch(url, { method: 'DELETE', headers: s.headers });
    await Promise.race([closed.get('slow_sse'), new Promise((_, j) => setTimeout(() => j(new Error('slow_sse: socket still open')), 5000))]);
    ac.abort();
    await pending;
  });
});
