/**
 * Review 29a: with `authorization` configured, a `resources/read` answered to a 2026-07-28
 * client carried the backend's caching hint as it was, `cacheScope: "public"` included
 * (SEP-2549: the same answer for every authorization context, so a shared response cache
 * may serve it to anyone). But the gateway's own rules make a read per principal: who may
 * read the resource is decided here, not by the backend. The official SDK v2 client keeps
 * `public` answers in the shared partition of its response cache (only `private` ones per
 * `cachePartition`), so an application serving several principals from one cache store
 * gave a principal the rules refuse the content another one had read, without asking the
 * gateway. Lists were already `private` under authorization; now reads are too.
 *
 * The attack: two SDK v2 clients (two API keys) sharing one InMemoryResponseCacheStore,
 * each with its own cachePartition; the reader reads secret://plan, then the guest, whom
 * the rules refuse everything, reads it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as V2Client, InMemoryResponseCacheStore, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { startGateway } from '../helpers/gateway.js';
import { startRecorder, type HttpRecorder, type RecordedRequest } from '../helpers/http-recorder.js';

const SECRET = 'the plan: attack at dawn';
const KEYS = { reader: 'reader-key-0123456789abcdef', guest: 'guest-key-0123456789abcdef' };

/** A minimal MCP backend with one resource, whose read says it may be cached by anyone for a minute. */
function vaultBackend(rec: HttpRecorder): void {
  rec.route('POST', '/mcp', (r: RecordedRequest) => {
    const msg = JSON.parse(r.body) as { id?: number | string; method: string; params?: Record<string, unknown> };
    if (msg.id === undefined) return { status: 202 };
    const ok = (result: unknown) => ({ body: { jsonrpc: '2.0', id: msg.id, result } });
    switch (msg.method) {
      case 'initialize':
        return ok({ protocolVersion: msg.params?.protocolVersion, capabilities: { resources: {} }, serverInfo: { name: 'vault', version: '1' } });
      case 'ping':
        return ok({});
      case 'resources/list':
        return ok({ resources: [{ uri: 'secret://plan', name: 'plan' }] });
      case 'resources/templates/list':
        return ok({ resourceTemplates: [] });
      case 'resources/read':
        return ok({ contents: [{ uri: 'secret://plan', text: SECRET }], ttlMs: 60_000, cacheScope: 'public' });
      default:
        return { body: { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } } };
    }
  });
  rec.route('GET', '/mcp', { status: 405, headers: { allow: 'POST' } });
  rec.route('DELETE', '/mcp', { status: 405, headers: { allow: 'POST' } });
}

describe('security (review 29a): a read the authorization rules decide is never a public cache entry', () => {
  let rec: HttpRecorder;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  const clients: V2Client[] = [];
  const store = new InMemoryResponseCacheStore();

  async function client(who: keyof typeof KEYS): Promise<V2Client> {
    const c = new V2Client({ name: who, version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } }, responseCacheStore: store, cachePartition: who });
    await c.connect(new V2Http(new URL(gw.url), { requestInit: { headers: { 'x-api-key': KEYS[who] } } }));
    clients.push(c);
    return c;
  }

  before(async () => {
    rec = await startRecorder();
    vaultBackend(rec);
    gw = await startGateway({
      auth: {
        api_keys: [
          { name: 'reader', key: KEYS.reader, groups: ['readers'] },
          { name: 'guest', key: KEYS.guest },
        ],
      },
      backends: { vault: { type: 'mcp', url: `${rec.url}/mcp` } },
      authorization: { default: 'deny', rules: [{ name: 'readers', principals: { groups: ['readers'] }, allow: { backends: ['vault'] } }] },
    });
  });

  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await gw?.close();
    await rec?.close();
  });

  it("a guest sharing the reader's response cache store does not get the secret the rules refuse it", async () => {
    const reader = await client('reader');
    const read = await reader.readResource({ uri: 'secret://plan' });
    assert.equal((read.contents[0] as { text: string }).text, SECRET, 'the reader may read it: the refusal below is the rules');

    const guest = await client('guest');
    const readsBefore = rec.all('/mcp').filter((r) => r.body.includes('"resources/read"')).length;
    const attempt = await guest.readResource({ uri: 'secret://plan' }).then(
      (r) => `served: ${JSON.stringify(r.contents)}`,
      (err: Error) => err.message,
    );
    assert.doesNotMatch(attempt, /attack at dawn/, 'the guest got the secret from the shared cache');
    assert.match(attempt, /forbidden/);
    assert.equal(rec.all('/mcp').filter((r) => r.body.includes('"resources/read"')).length, readsBefore, 'and the backend was not asked for it');
    assert.equal((read as { cacheScope?: string }).cacheScope, 'private');
    assert.equal((read as { ttlMs?: number }).ttlMs, 60_000, "the backend's freshness is kept: only the scope is the gateway's");
  });
});
