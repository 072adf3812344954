/**
 * CatalogSync's list: over a connection that mirrors x-mcp-header arguments (Streamable HTTP at
 * 2026-07-28), tools with invalid declarations are left out (SEP-2243), and what is logged
 * about them is bounded, whatever the backend lists; a list's pages together are bounded in
 * bytes (results as the transports hand them over: RawJson over the backend's bytes).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '../../../src/observability/logger.js';
import { GatewayError, RemoteRpcError } from '../../../src/errors/catalog.js';
import { CatalogSync, MAX_LIST_BYTES } from '../../../src/upstream/catalog-sync.js';
import { RawJson } from '../../../src/wire/raw-json.js';
import type { BackendConnection } from '../../../src/upstream/connection.js';

function recordingLog(): { log: Logger; lines: Array<{ fields: Record<string, unknown>; msg: string }> } {
  const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const log = {
    warn: (fields: Record<string, unknown>, msg: string) => void lines.push({ fields, msg }),
    info() {},
    debug() {},
    error() {},
    child: () => log,
  };
  return { log: log as unknown as Logger, lines };
}

/** A CatalogSync over `conn`, up, and the tool names of each catalog its re-lists bring. */
function watching(conn: BackendConnection): { sync: CatalogSync; seen: string[][] } {
  const seen: string[][] = [];
  const sync = new CatalogSync({
    log: recordingLog().log,
    timeoutMs: 1000,
    connection: () => conn,
    isUp: () => true,
    changed: (catalog) => void seen.push(catalog.tools.map((t) => String(t.name))),
  });
  return { sync, seen };
}

/** A connection whose tools/list answers `tools()`, mirroring param headers or not. */
function connection(tools: () => unknown[], mirrors: boolean): BackendConnection {
  return {
    initializeResult: { capabilities: { tools: {} } },
    stateless: undefined,
    mirrorsParamHeaders: mirrors,
    request: async (method: string) => (method === 'tools/list' ? { tools: tools() } : {}),
  } as unknown as BackendConnection;
}

const invalid = (name: string) => ({ name, inputSchema: { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'Bad Name' } } } });
const valid = (name: string) => ({ name, inputSchema: { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'A' } } } });

describe('CatalogSync: tools with invalid x-mcp-header declarations', () => {
  it('leaves them out when the connection mirrors param headers, and keeps them when it does not', async () => {
    const tools = () => [valid('ok'), invalid('bad')];
    const { log } = recordingLog();
    const host = { log, timeoutMs: 1000, connection: () => undefined, isUp: () => true, changed() {} };
    const names = async (mirrors: boolean) => (await new CatalogSync(host).list(connection(tools, mirrors))).tools.map((t) => t.name);
    assert.deepEqual(await names(true), ['ok']);
    assert.deepEqual(await names(false), ['ok', 'bad']);
  });

  it('logs each one once, 20 lines a list at most then one counting the rest, the backend’s text cut at 200 characters', async () => {
    let round = 0;
    // Every re-list renames all 500 tools: each list is new to the log.
    const tools = () => Array.from({ length: 500 }, (_, i) => invalid(`${'x'.repeat(10_000)}-${round}-${i}`));
    const { log, lines } = recordingLog();
    const sync = new CatalogSync({ log, timeoutMs: 1000, connection: () => undefined, isUp: () => true, changed() {} });
    const conn = connection(tools, true);
    assert.deepEqual((await sync.list(conn)).tools, []);
    assert.equal(lines.length, 21);
    assert.ok(lines.slice(0, 20).every((l) => String(l.fields.tool).length <= 201 && String(l.fields.reason).length <= 201));
    assert.equal(lines[20].fields.more, 480);
    // The same names again: nothing new to say.
    await sync.list(conn);
    assert.equal(lines.length, 21);
    round++;
    await sync.list(conn);
    assert.equal(lines.length, 42, 'new names: at most 21 lines again');
  });
});

describe('CatalogSync: the bytes of a list, all pages together', () => {
  /** A tools/list result of about `mib` MiB as the transports hand it over; a cursor to the next page unless it is the last. */
  const page = (mib: number, n: number, last: boolean) => {
    const text = JSON.stringify({
      tools: [{ name: `t${n}`, description: 'x'.repeat(mib * 1024 * 1024), inputSchema: { type: 'object' } }],
      ...(last ? {} : { nextCursor: String(n + 1) }),
    });
    return new RawJson(Buffer.from(text), 0, Buffer.byteLength(text), false);
  };
  const host = { log: recordingLog().log, timeoutMs: 1000, connection: () => undefined, isUp: () => true, changed() {} };
  const paged = (mib: number, pages: number) => {
    let asked = 0;
    const conn = {
      backend: 'big',
      initializeResult: { capabilities: { tools: {} } },
      stateless: undefined,
      mirrorsParamHeaders: false,
      request: async () => {
        asked++;
        return page(mib, asked, asked === pages);
      },
    } as unknown as BackendConnection;
    return { conn, asked: () => asked };
  };

  it('reads pages up to 64 MiB in all', async () => {
    const { conn } = paged(20, 3);
    assert.equal((await new CatalogSync(host).list(conn)).tools.length, 3);
  });

  it('refuses a list past 64 MiB over its pages, at the page that crosses, naming the backend and the list', async () => {
    const { conn, asked } = paged(30, 4);
    await assert.rejects(new CatalogSync(host).list(conn), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'MCPEG_ERR_BACKEND_ANSWER_TOO_LARGE');
      assert.match(err.message, /backend "big" lists more than 67108864 bytes of tools over 3 pages/);
      return true;
    });
    assert.equal(asked(), 3, 'no page read past the one that crossed the bound');
    assert.equal(MAX_LIST_BYTES, 64 * 1024 * 1024);
  });
});

describe('CatalogSync: re-lists one at a time', () => {
  it('a list_changed during a re-list does not start a second one beside it: one more follows when it ends', async () => {
    let inFlight = 0;
    let most = 0;
    let calls = 0;
    const gates: Array<() => void> = [];
    const conn = {
      backend: 'slow',
      initializeResult: { capabilities: { tools: { listChanged: true } } },
      stateless: undefined,
      mirrorsParamHeaders: false,
      isClosed: false,
      request: async () => {
        calls++;
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise<void>((resolve) => gates.push(resolve));
        inFlight--;
        return { tools: [{ name: `t${calls}` }] };
      },
    } as unknown as BackendConnection;
    const { sync, seen } = watching(conn);
    const tick = () => new Promise((resolve) => setTimeout(resolve, 60));
    sync.refresh(['tools']);
    await tick();
    // The backend announces again and again while its list is slow to come.
    for (let i = 0; i < 5; i++) {
      sync.refresh(['tools']);
      await tick();
    }
    assert.equal(most, 1, 'one re-list at a time');
    gates.shift()?.();
    await tick();
    assert.equal(calls, 2, 'the announcements meanwhile bring one more re-list, not five');
    gates.shift()?.();
    await tick();
    assert.deepEqual(seen, [['t1'], ['t2']]);
    sync.stop();
  });
});

describe('CatalogSync: a failed re-list of a polled backend', () => {
  it('is tried again at the TTL, not never again: a later list that is fine brings the catalog back up to date', async () => {
    let calls = 0;
    const conn = {
      backend: 'polled',
      initializeResult: { capabilities: { tools: {} } },
      stateless: {},
      mirrorsParamHeaders: false,
      isClosed: false,
      request: async () => {
        calls++;
        if (calls === 2) throw new GatewayError('MCPEG_ERR_BACKEND_ANSWER_TOO_LARGE', 'too large', {});
        return { tools: [{ name: `t${calls}` }], ttlMs: 1000 };
      },
    } as unknown as BackendConnection;
    const { sync, seen } = watching(conn);
    await sync.list(conn);
    await new Promise((resolve) => setTimeout(resolve, 2400));
    sync.stop();
    assert.ok(calls >= 3, `listed ${calls} times`);
    assert.deepEqual(seen[0], ['t3']);
  });
});

describe('CatalogSync: a failed re-list in the log', () => {
  it('the backend’s error text is cut: a 1 MB message is not logged whole', async () => {
    const conn = {
      backend: 'loud',
      initializeResult: { capabilities: { tools: {} } },
      stateless: undefined,
      mirrorsParamHeaders: false,
      isClosed: false,
      request: async () => {
        throw new RemoteRpcError({ code: -32000, message: 'e'.repeat(1024 * 1024) });
      },
    } as unknown as BackendConnection;
    const { log, lines } = recordingLog();
    const sync = new CatalogSync({ log, timeoutMs: 1000, connection: () => conn, isUp: () => true, changed() {} });
    sync.refresh(['tools']);
    await new Promise((resolve) => setTimeout(resolve, 60));
    sync.stop();
    // The same cut text is what /health shows as the catalog's failure.
    assert.ok(sync.failure !== undefined && sync.failure.error.length <= 1001, 'the failure kept, cut');
    const line = lines.find((l) => l.msg === 'catalog refresh failed');
    assert.ok(line);
    assert.ok(String(line.fields.err).length <= 1001, `logged ${String(line.fields.err).length} characters`);
  });
});
