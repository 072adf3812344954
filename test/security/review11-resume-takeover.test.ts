/**
 * Attack: resume one open POST stream again and again.
 *
 * A GET with Last-Event-ID naming an event of a POST stream whose request is still being
 * served takes that stream over (Streamable HTTP, "Resumability and Redelivery"). The
 * gateway moved the stream to the new response but never ended the one it replaced (the
 * POST's, or an earlier resume's): nothing more was ever written to it, and it stayed open,
 * with its socket, until the client closed it. One client resuming the same stream in a loop
 * left one more such response each time. Now a stream has one consumer: the response it
 * leaves ends (the client reads the end of the body) and the newest gets what follows.
 *
 * Here the backend is the official MCP SDK's server over Streamable HTTP, in this process,
 * with a tool that reports progress and then waits until the test lets it answer; the POST
 * and the two resumes are raw HTTP requests to a real gateway.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { rawSession, startGateway } from '../helpers/gateway.js';

/** An SDK backend whose `slow` tool sends one progress notification (when asked), then answers "done" once release() is called; hold() makes the next calls wait again. */
function slowBackend() {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  let release: () => void = () => {};
  let released = new Promise<void>((r) => (release = r));
  const hold = () => {
    released = new Promise<void>((r) => (release = r));
  };
  const http: HttpServer = createServer(async (req, res) => {
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? transports.get(sid) : undefined;
    if (!transport) {
      if (req.method !== 'POST' || sid !== undefined) return void res.writeHead(404).end();
      const server = new Server({ name: 'slow', version: '1.0.0' }, { capabilities: { tools: {} } });
      server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [{ name: 'slow', inputSchema: { type: 'object' as const } }] }));
      server.setRequestHandler(CallToolRequestSchema, async (r, extra) => {
        const token = r.params._meta?.progressToken;
        if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1 } });
        await released;
        return { content: [{ type: 'text' as const, text: 'done' }] };
      });
      const t: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void transports.set(id, t),
      });
      t.onclose = () => {
        if (t.sessionId) transports.delete(t.sessionId);
      };
      await server.connect(t);
      transport = t;
    }
    await transport.handleRequest(req, res);
  });
  return { http, release: () => release(), hold };
}

interface Event {
  id?: string;
  data: string;
}

/** One raw HTTP exchange whose SSE body is read as it comes: its events, and whether the body has ended. */
interface RawStream {
  res: IncomingMessage;
  /** The body as read so far. */
  text: string;
  events: Event[];
  ended: boolean;
  /** Resolves with the first event (from the start) that `pred` accepts. */
  event(pred: (e: Event) => boolean, what: string, ms?: number): Promise<Event>;
  /** Resolves when the body has ended (the end of the chunked body reached the socket), rejects after `ms`. */
  end(what: string, ms?: number): Promise<void>;
  destroy(): void;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function open(url: string, method: 'GET' | 'POST', headers: Record<string, string>, body?: string): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      const s: RawStream = {
        res,
        text: '',
        events: [],
        ended: false,
        event: (pred, what, ms = 5_000) =>
          within(
            new Promise<Event>((ok) => {
              const look = () => {
                const e = s.events.find(pred);
                if (e) return ok(e);
                res.once('data', () => setImmediate(look));
              };
              look();
            }),
            ms,
            what,
          ),
        end: (what, ms = 5_000) => within(s.ended ? Promise.resolve() : new Promise<void>((ok) => res.once('end', () => ok())), ms, what),
        destroy: () => req.destroy(),
      };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        s.text += chunk;
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev: Event = { data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) ev.id = line.slice(4);
            else if (line.startsWith('data: ')) ev.data += line.slice(6);
          }
          if (ev.id !== undefined || ev.data) s.events.push(ev);
        }
      });
      res.on('end', () => (s.ended = true));
      resolve(s);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('review11: resuming a POST stream that is still open', () => {
  const b = slowBackend();
  let gw: Awaited<ReturnType<typeof startGateway>>;
  const streams: RawStream[] = [];

  before(async () => {
    await new Promise<void>((r) => b.http.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(b.http.address() as AddressInfo).port}/mcp`;
    gw = await startGateway({ backends: { slow: { type: 'mcp', url, protocol: 'stateful' } } });
  });
  after(async () => {
    b.release();
    for (const s of streams) s.destroy();
    await gw?.close();
    b.http.closeAllConnections();
    await new Promise<void>((r) => b.http.close(() => r()));
  });

  it('each resume takes the stream over: the response it replaces ends, the newest gets the answer', async () => {
    const s = await rawSession(gw.url, '2025-11-25');
    const sse = { ...s.headers, accept: 'text/event-stream, application/json' };
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow__slow', arguments: {}, _meta: { progressToken: 'p' } } };
    const post = await open(gw.url, 'POST', sse, JSON.stringify(call));
    streams.push(post);
    assert.equal(post.res.statusCode, 200);
    const progress = await post.event((e) => e.data.includes('notifications/progress'), 'the progress notification on the POST stream');
    assert.ok(progress.id, 'the event has an id to resume from');
    const get = { ...s.headers, accept: 'text/event-stream', 'last-event-id': progress.id! };

    // The client keeps the POST open and resumes its stream anyway: the POST's response is left behind.
    const first = await open(gw.url, 'GET', get);
    streams.push(first);
    assert.equal(first.res.statusCode, 200);
    await post.end('the end of the POST response once a resume took its stream over');

    // Resumed again: the first resume's response is left behind in turn.
    const second = await open(gw.url, 'GET', get);
    streams.push(second);
    assert.equal(second.res.statusCode, 200);
    await first.end('the end of the first resumed response once the second took the stream over');
    assert.ok(!second.ended, 'the newest response stays open');

    // The answer goes to the newest, which then ends as the stream is complete; the ended ones got nothing more.
    const before = first.events.length;
    b.release();
    const answer = await second.event((e) => e.data.includes('"id":1'), 'the answer on the newest resumed response');
    assert.match(answer.data, /"text":"done"/);
    await second.end('the end of the newest response after the answer');
    assert.equal(first.events.length, before, 'nothing more was written to a response left behind');
    assert.ok(!post.events.some((e) => e.data.includes('"id":1')), 'the answer did not go to the POST response');
  });

  it('a resume naming a POST stream that has sent nothing (its answer still to come as JSON) is not attached to it', async () => {
    // Review 13: the id of such a stream is guessable (`p<instance tag><n>_0`; the tag shows in any event id), and the
    // in-memory event store took it for a known stream: the resume was attached, the POST got an empty 200, and the
    // JSON answer was written to the resume's response, whose SSE head had gone out (ERR_HTTP_HEADERS_SENT): lost.
    const s = await rawSession(gw.url, '2025-11-25');
    const standalone = await open(gw.url, 'GET', { ...s.headers, accept: 'text/event-stream' });
    streams.push(standalone);
    const priming = await standalone.event((e) => e.id !== undefined, "the GET stream's priming event");
    const tag = /^g([0-9a-f]+)_/.exec(priming.id!)?.[1];
    assert.ok(tag, `an instance tag in ${priming.id}`);
    b.hold();
    // A JSON answer sends its head with the answer: the POST's response is not there before the backend answers.
    let answered = false;
    const posted = open(
      gw.url,
      'POST',
      { ...s.headers, accept: 'application/json, text/event-stream' },
      JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow__slow', arguments: {} } }),
    ).then((r) => {
      answered = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 300));
    for (const n of [1, 2, 3, 4]) {
      const resume = await open(gw.url, 'GET', { ...s.headers, accept: 'text/event-stream', 'last-event-id': `p${tag}${n}_0` });
      streams.push(resume);
      // Not the POST's stream: an unknown stream id is not resumed (the GET stream is open already: 409).
      assert.equal(resume.res.statusCode, 409, `resume of p${tag}${n}_0`);
    }
    assert.ok(!answered, 'the POST is still waiting for its answer (no empty 200)');
    b.release();
    const post = await within(posted, 5_000, 'the POST answered');
    streams.push(post);
    await post.end('the end of the POST answer');
    assert.equal(post.res.statusCode, 200);
    assert.match(post.res.headers['content-type'] ?? '', /^application\/json/);
    assert.match(post.text, /"id":2/);
    assert.match(post.text, /"text":"done"/);
  });
});
