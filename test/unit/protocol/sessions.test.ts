/**
 * SessionManager (src/protocol/sessions.ts) over MemorySessionStore: the life of a
 * session, a session rebuilt by a second instance from the shared store, the idle sweep
 * (an injected `now`, and the sweeper on fake timers), the session limits (the oldest idle
 * session yields, busy ones never do; per client, IPv6 grouped by /64), ephemeral sessions
 * of stateless requests, subscriptions/listen streams, closeAll.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it, mock } from 'node:test';
import { GatewayError } from '../../../src/errors/catalog.js';
import { MemorySessionStore } from '../../../src/protocol/session-store.js';
import type { ClientSession } from '../../../src/protocol/session.js';
import { clientKey, SessionManager, type ListChangedListener, type SessionManagerOptions } from '../../../src/protocol/sessions.js';
import { Cancellation } from '../../../src/util/cancellation.js';
import type { JsonRpcNotification, JsonRpcRequest } from '../../../src/wire/jsonrpc.js';
import { LATEST_VERSION } from '../../../src/wire/versions.js';
import { RecordingOutbound, settle, TestHost } from '../../helpers/in-memory.js';

const host = new TestHost();
const IDLE = 60_000;

function manager(o: Partial<SessionManagerOptions> = {}, store = new MemorySessionStore()): { m: SessionManager; store: MemorySessionStore; closed: ClientSession[] } {
  const m = new SessionManager(host, store, { idleTimeoutMs: IDLE, backendIdleMs: IDLE, maxSessions: 100, instructions: () => undefined, ...o });
  const closed: ClientSession[] = [];
  m.onClosed = (s) => void closed.push(s);
  return { m, store, closed };
}

const initialize = (protocolVersion: unknown = '2025-06-18', capabilities: Record<string, unknown> = { sampling: {} }): JsonRpcRequest => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion, capabilities, clientInfo: { name: 'client', version: '2' } },
});

const code = (c: string) => (e: unknown) => e instanceof GatewayError && e.code === c;
const busy = (s: ClientSession) => void s.inflight.set('busy', new Cancellation());
function streaming(s: ClientSession): void {
  const out = new RecordingOutbound(s);
  out.open = true;
  s.outbound = out;
}

describe("SessionManager: a session's life", () => {
  it('create answers initialize and stores the record; get finds it by id in its own view only; close ends it everywhere', async () => {
    const { m, store, closed } = manager();
    const { session, result } = await m.create('aggregate', initialize(), 'id-1');
    assert.equal(session.sessionId, 'id-1');
    assert.equal(result.protocolVersion, '2025-06-18');
    assert.equal((result.serverInfo as { name: string }).name, 'mcpeg');
    const rec = await store.get('id-1');
    assert.deepEqual([rec?.viewId, rec?.protocolVersion, rec?.capabilities, rec?.clientInfo], ['aggregate', '2025-06-18', { sampling: {} }, { name: 'client', version: '2' }]);
    assert.equal(await m.get('id-1', 'aggregate'), session);
    assert.equal(await m.get('id-1', 'backend:other'), undefined, 'a session id is valid only on the endpoint that created it');
    assert.equal(await m.get('nope', 'aggregate'), undefined);
    assert.equal(await m.close('id-1', 'client DELETE'), true);
    assert.equal(session.isClosed, true);
    assert.deepEqual(closed, [session]);
    assert.equal(await store.get('id-1'), undefined);
    assert.equal(await m.get('id-1', 'aggregate'), undefined);
    assert.equal(await m.close('id-1', 'again'), false);
  });

  it('negotiates the version (an unknown one gets the latest) and refuses a bad initialize or an unknown endpoint', async () => {
    const { m } = manager();
    assert.equal((await m.create('aggregate', initialize('1999-01-01'))).result.protocolVersion, LATEST_VERSION);
    await assert.rejects(m.create('aggregate', initialize(42)), code('MCPEG_ERR_INVALID_PARAMS'));
    await assert.rejects(m.create('backend:none', initialize()), code('MCPEG_ERR_NOT_FOUND'));
    assert.equal(m.size, 1);
  });
});

describe('SessionManager: two instances, one store', () => {
  it('the second instance rebuilds the session from the record, once, however many requests race for it', async () => {
    const store = new MemorySessionStore();
    const a = manager({}, store).m;
    const b = manager({}, store).m;
    const { session } = await a.create('aggregate', initialize('2025-03-26', { roots: {} }), 'shared-1');
    assert.equal(b.peek('shared-1'), undefined);
    const [x, y] = await Promise.all([b.get('shared-1', 'aggregate'), b.get('shared-1', 'aggregate')]);
    assert.ok(x && x !== session, 'a new object on the second instance');
    assert.equal(y, x);
    assert.deepEqual([x.protocolVersion, x.capabilities, x.clientInfo, x.initialized], ['2025-03-26', { roots: {} }, { name: 'client', version: '2' }, true]);
    assert.equal(b.size, 1);
    assert.equal(await b.get('shared-1', 'backend:other'), undefined);
    await b.close('shared-1', 'client DELETE');
    assert.equal(await manager({}, store).m.get('shared-1', 'aggregate'), undefined, 'closed on one instance: gone for a third');
  });

  it('a restored session counts against max_sessions: the instance refuses it when every session is busy', async () => {
    const store = new MemorySessionStore();
    const a = manager({}, store).m;
    const b = manager({ maxSessions: 1 }, store).m;
    await a.create('aggregate', initialize(), 'elsewhere');
    busy((await b.create('aggregate', initialize(), 'local')).session);
    await assert.rejects(b.get('elsewhere', 'aggregate'), code('MCPEG_ERR_SESSION_LIMIT'));
    assert.equal(b.size, 1);
  });
});

describe('SessionManager: idle sweep', () => {
  afterEach(() => mock.timers.reset());

  it('closes sessions idle past the timeout; keeps those with a request in flight or a stream open', async () => {
    const { m, store, closed } = manager();
    const idle = (await m.create('aggregate', initialize(), 'idle')).session;
    const working = (await m.create('aggregate', initialize(), 'working')).session;
    const listening = (await m.create('aggregate', initialize(), 'listening')).session;
    busy(working);
    streaming(listening);
    await m.sweep(Date.now() + IDLE - 1000);
    assert.equal(m.size, 3, 'nothing is idle long enough yet');
    await m.sweep(Date.now() + IDLE + 1000);
    assert.deepEqual(closed, [idle]);
    assert.equal(idle.isClosed, true);
    assert.equal(await store.get('idle'), undefined);
    assert.deepEqual([...m.sessions()].map((s) => s.sessionId).sort(), ['listening', 'working']);
  });

  it("a session another instance served recently is only dropped from this one's memory", async () => {
    const store = new MemorySessionStore();
    const a = manager({}, store).m;
    const b = manager({}, store).m;
    const { session } = await a.create('aggregate', initialize(), 'roaming');
    const later = Date.now() + 2 * IDLE;
    await store.touch('roaming', later - 10); // the other instance served it just now
    await a.sweep(later);
    assert.equal(a.size, 0);
    assert.equal(session.isClosed, true);
    assert.ok(await store.get('roaming'), 'the record stays: the session lives on elsewhere');
    assert.ok(await b.get('roaming', 'aggregate'));
  });

  it('the sweeper runs on its own, every quarter of the idle timeout (fake timers)', async () => {
    mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
    const { m, closed } = manager({ idleTimeoutMs: 8000, backendIdleMs: 8000 });
    const { session } = await m.create('aggregate', initialize());
    m.startSweeper();
    mock.timers.tick(8000);
    await settle();
    assert.equal(session.isClosed, false, 'idle for exactly the timeout: kept');
    mock.timers.tick(2000);
    await settle();
    assert.deepEqual(closed, [session]);
    await m.closeAll('test over');
  });
});

describe('SessionManager: server.max_sessions', () => {
  it('the least recently seen idle session yields its place; busy and streaming ones never do', async () => {
    const { m, closed } = manager({ maxSessions: 2 });
    const a = (await m.create('aggregate', initialize(), 'a')).session;
    const b = (await m.create('aggregate', initialize(), 'b')).session;
    a.lastSeen = b.lastSeen - 1000;
    await m.create('aggregate', initialize(), 'c');
    assert.deepEqual(closed, [a]);
    const c = m.peek('c')!;
    busy(b);
    b.lastSeen = c.lastSeen - 1000; // the oldest, but busy
    await m.create('aggregate', initialize(), 'd');
    assert.deepEqual(closed, [a, c], 'the newer idle session yields, not the older busy one');
    streaming(m.peek('d')!);
    await assert.rejects(m.create('aggregate', initialize(), 'e'), (e: GatewayError) => e.code === 'MCPEG_ERR_SESSION_LIMIT' && /every session is busy/.test(e.message));
    assert.deepEqual(
      [...m.sessions()].map((s) => s.sessionId),
      ['b', 'd'],
    );
  });
});

describe('SessionManager: server.max_sessions_per_client', () => {
  it('groups IPv6 addresses by /64 and IPv4-mapped addresses with their IPv4 form', () => {
    assert.equal(clientKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:0db8:0001:0002:ffff:0:0:9'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8:1:3::1'), '2001:db8:1:3::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
    assert.equal(clientKey('fe80::1'), 'fe80:0:0:0::/64');
    assert.equal(clientKey('::ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(clientKey('10.0.0.1'), '10.0.0.1');
  });

  it("one client's idle session yields to its next; a busy client is refused; other clients are not touched", async () => {
    const { m, closed } = manager({ maxSessionsPerClient: 1 });
    const other = (await m.create('aggregate', initialize(), 'other', '10.0.0.1')).session;
    const first = (await m.create('aggregate', initialize(), 'first', '2001:db8:1:2::1')).session;
    other.lastSeen = first.lastSeen - 1000; // older than any of the client's, yet another client's
    const second = (await m.create('aggregate', initialize(), 'second', '2001:db8:1:2:ffff::9')).session;
    assert.deepEqual(closed, [first], 'same /64: same client');
    busy(second);
    await assert.rejects(
      m.create('aggregate', initialize(), 'third', '2001:db8:1:2::abcd'),
      (e: GatewayError) => e.code === 'MCPEG_ERR_SESSION_LIMIT' && /max_sessions_per_client/.test(e.message),
    );
    await m.create('aggregate', initialize(), 'neighbour', '2001:db8:1:3::1');
    assert.deepEqual(closed, [first]);
    await m.create('aggregate', initialize(), 'mapped', '::ffff:10.0.0.1');
    assert.deepEqual(closed, [first, other], 'the IPv4-mapped form is the same client as 10.0.0.1');
  });

  it('closing a session gives its client the place back; sessions without an address are not counted', async () => {
    const { m, closed } = manager({ maxSessionsPerClient: 1 });
    busy((await m.create('aggregate', initialize(), 'x', '192.0.2.7')).session);
    await m.close('x', 'client DELETE');
    busy((await m.create('aggregate', initialize(), 'y', '192.0.2.7')).session);
    await m.create('aggregate', initialize(), 'stdio-1');
    await m.create('aggregate', initialize(), 'stdio-2');
    assert.equal(m.size, 3);
    assert.deepEqual(
      closed.map((s) => s.sessionId),
      ['x'],
    );
  });
});

describe('SessionManager: ephemeral sessions (stateless requests)', () => {
  const env = { protocolVersion: '2026-07-28', capabilities: { sampling: {} }, clientInfo: { name: 'stateless', version: '1' }, logLevel: 'info' };

  it('are built from the envelope, never stored, not counted, and gone when done', async () => {
    const { m, store } = manager();
    const s = m.ephemeral('aggregate', env);
    const t = m.ephemeral('aggregate', { ...env, logLevel: undefined });
    assert.notEqual(s.sessionId, t.sessionId);
    assert.deepEqual([s.stateless, s.initialized, s.logLevel, s.capabilities], [true, true, 'info', { sampling: {} }]);
    assert.equal(t.logLevel, undefined);
    assert.equal(m.size, 0);
    assert.equal(await store.get(s.sessionId), undefined);
    assert.equal(await m.get(s.sessionId, 'aggregate'), undefined);
    assert.ok(m.transient.has(s));
    m.done(s);
    assert.equal(m.transient.has(s), false);
    assert.ok(m.transient.has(t));
    assert.throws(() => m.ephemeral('backend:none', env), code('MCPEG_ERR_NOT_FOUND'));
    m.refuseNew();
    assert.throws(() => m.ephemeral('aggregate', env), code('MCPEG_ERR_SHUTTING_DOWN'));
  });
});

describe('SessionManager: list_changed fan-out and subscriptions/listen', () => {
  function listener(viewId: string, methods: string[]): ListChangedListener & { got: JsonRpcNotification[]; ended: number } {
    const l = { viewId, methods: new Set(methods), got: [] as JsonRpcNotification[], ended: 0, deliver: (n: JsonRpcNotification) => void l.got.push(n), end: () => void l.ended++ };
    return l;
  }
  const toolsChanged: JsonRpcNotification = { jsonrpc: '2.0', method: 'notifications/tools/list_changed' };

  it('listen streams are bounded by max_sessions; a closed one frees its place', () => {
    const { m } = manager({ maxSessions: 2 });
    m.addListener(listener('aggregate', []));
    const remove = m.addListener(listener('aggregate', []));
    assert.throws(() => m.addListener(listener('aggregate', [])), code('MCPEG_ERR_SESSION_LIMIT'));
    remove();
    assert.equal(m.listenerCount, 1);
    m.addListener(listener('aggregate', []));
  });

  it('broadcast reaches initialized sessions and the listeners of the view that asked for that notification', async () => {
    const { m } = manager();
    const wanted = listener('aggregate', ['notifications/tools/list_changed']);
    const otherKind = listener('aggregate', ['notifications/prompts/list_changed']);
    const otherView = listener('backend:x', ['notifications/tools/list_changed']);
    for (const l of [wanted, otherKind, otherView]) m.addListener(l);
    const ready = (await m.create('aggregate', initialize())).session;
    const early = (await m.create('aggregate', initialize())).session;
    const outReady = new RecordingOutbound(ready);
    const outEarly = new RecordingOutbound(early);
    ready.outbound = outReady;
    early.outbound = outEarly;
    ready.initialized = true;
    m.broadcast(new Set(['aggregate']), toolsChanged);
    assert.deepEqual(wanted.got, [toolsChanged]);
    assert.deepEqual([otherKind.got, otherView.got], [[], []]);
    assert.deepEqual(
      outReady.sent.map((s) => s.msg),
      [toolsChanged],
    );
    assert.deepEqual(outEarly.sent, [], 'not before notifications/initialized');
  });
});

describe('SessionManager: closeAll', () => {
  it('closes every session and ends every listen stream; nothing new is accepted after', async () => {
    const { m, store } = manager();
    const sessions = await Promise.all([1, 2, 3].map(async (i) => (await m.create('aggregate', initialize(), `s${i}`)).session));
    let ended = 0;
    m.addListener({ viewId: 'aggregate', methods: new Set(), deliver() {}, end: () => void ended++ });
    await m.closeAll('gateway stopping');
    assert.ok(sessions.every((s) => s.isClosed));
    assert.equal(m.size, 0);
    assert.equal(ended, 1);
    assert.equal(m.listenerCount, 0);
    for (const s of sessions) assert.equal(await store.get(s.sessionId), undefined);
    await assert.rejects(m.create('aggregate', initialize()), code('MCPEG_ERR_SHUTTING_DOWN'));
    assert.throws(() => m.addListener({ viewId: 'aggregate', methods: new Set(), deliver() {}, end() {} }), code('MCPEG_ERR_SHUTTING_DOWN'));
  });

  it('a delete that fails after closeAll starts no retries: nothing would ever stop them (review 30)', async () => {
    mock.timers.enable({ apis: ['setInterval'] });
    const store = new MemorySessionStore();
    let deletes = 0;
    let fail: ((err: Error) => void) | undefined;
    const { m } = manager({}, store);
    await m.create('aggregate', initialize(), 'late');
    // The store is away: the client's DELETE waits on it while the gateway stops.
    store.delete = () => {
      deletes++;
      return new Promise<void>((_, reject) => (fail = reject));
    };
    const ending = m.close('late', 'client DELETE');
    await m.closeAll('gateway stopping');
    fail!(new Error('store gone'));
    await ending;
    assert.equal(deletes, 1);
    mock.timers.tick(10_000);
    await settle();
    assert.equal(deletes, 1, 'the failed delete was retried after closeAll, by a timer nothing clears');
  });
});
