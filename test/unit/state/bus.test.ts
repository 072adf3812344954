/**
 * state/bus.ts against real Redis (test/helpers/redis.ts): two buses under one key prefix
 * talk, a bus hears nothing it sent itself, a message over the size bound (in bytes) is neither sent
 * nor accepted (send() says so), a message no instance listens for is reported to its
 * sender, publishes waiting for a stalled Redis are bounded, request() carries an answer or the handler's error back
 * and times out when nobody answers, one owner cannot take every waiting place, a stream
 * record is released only by the instance it names, stream holders are remembered and
 * forgotten when the stream moves, records are refreshed in chunks, and an instance is
 * alive until it closes.
 */
import assert from 'node:assert/strict';
import { after, describe, it, mock } from 'node:test';
import { GatewayError } from '../../../src/errors/catalog.js';
import { createLogger, silentLogger } from '../../../src/observability/logger.js';
import { CLAIM_CHUNK, MAX_PENDING_PER_OWNER, MAX_PUBLISHING, MAX_PUBLISHING_BYTES, MAX_PUBLISHING_PER_OWNER, RedisBus, type RedisBusOptions } from '../../../src/state/bus.js';
import { connectRedis, type RedisState } from '../../../src/state/redis.js';
import type { BusMessage } from '../../../src/protocol/bus.js';
import { waitFor } from '../../helpers/gateway.js';
import { REDIS_URL, redisPrefix } from '../../helpers/redis.js';

describe('RedisBus', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });
  const { prefix, cleanup } = redisPrefix();
  cleanups.push(cleanup);

  async function bus(maxBytes = 4096, opts: RedisBusOptions = {}, wrap = (r: RedisState) => r): Promise<{ bus: RedisBus; redis: RedisState }> {
    const redis = await connectRedis({ url: REDIS_URL, key_prefix: prefix, connect_timeout: 2000, command_timeout: 2000, reconnect_max_delay: 1000 }, silentLogger());
    const b = await RedisBus.open(wrap(redis), silentLogger(), maxBytes, opts);
    cleanups.push(async () => {
      b.close();
      await redis.close();
    });
    return { bus: b, redis };
  }

  it('sends to one instance and to all, never to itself; drops what is over the size bound', async () => {
    const [{ bus: a }, { bus: b }, { bus: c }] = [await bus(), await bus(), await bus()];
    const heard: Record<string, BusMessage[]> = { a: [], b: [], c: [] };
    a.on('t', (m) => heard.a.push(m));
    b.on('t', (m) => heard.b.push(m));
    c.on('t', (m) => heard.c.push(m));
    assert.equal(a.send(b.instanceId, { kind: 't', n: 1 }), true);
    assert.equal(a.send('*', { kind: 't', n: 2 }), true);
    assert.equal(a.send(b.instanceId, { kind: 't', n: 3, pad: 'x'.repeat(5000) }), false, 'too large: not sent, and the caller is told');
    assert.equal(a.send(b.instanceId, { kind: 't', n: 4 }), true);
    await waitFor(() => heard.b.length >= 3 && heard.c.length >= 1, 'the messages');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      heard.b.map((m) => m.n),
      [1, 2, 4],
    );
    assert.deepEqual(
      heard.c.map((m) => m.n),
      [2],
    );
    assert.deepEqual(heard.a, []);
  });

  it('the size bound is in bytes both ways: a message of multi-byte characters under it in UTF-16 units but over it in bytes is neither sent nor accepted', async () => {
    const [{ bus: a, redis }, { bus: b }] = [await bus(), await bus()];
    const heard: BusMessage[] = [];
    b.on('t', (m) => heard.push(m));
    // 2,500 'é' are 2,500 UTF-16 units and 5,000 bytes: over the 4096-byte bound.
    const pad = '\u00e9'.repeat(2500);
    assert.equal(a.send(b.instanceId, { kind: 't', n: 1, pad }), false, 'too large in bytes: not sent');
    // Published by something else on the channel (any Redis client under the prefix): refused on arrival too.
    await redis.client.publish(`${prefix}bus:${b.instanceId}`, JSON.stringify({ from: 'ffffffffffff', msg: { kind: 't', n: 2, pad } }));
    await redis.client.publish(`${prefix}bus:${b.instanceId}`, JSON.stringify({ from: 'ffffffffffff', msg: { kind: 't', n: 3 } }));
    await waitFor(() => heard.length >= 1, 'the small message');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      heard.map((m) => m.n),
      [3],
    );
  });

  it('request() gets the answer, or the error the answering side threw, or times out', async () => {
    const [{ bus: a }, { bus: b }] = [await bus(), await bus()];
    b.answer('double', async (m) => ({ twice: Number(m.n) * 2 }));
    b.answer('fail', async () => {
      throw new GatewayError('MCPEG_ERR_SESSION_NOT_FOUND', 'nothing here');
    });
    assert.deepEqual(await a.request(b.instanceId, { kind: 'double', n: 21 }, 2000, 'o'), { twice: 42 });
    await assert.rejects(a.request(b.instanceId, { kind: 'fail' }, 2000, 'o'), (e: GatewayError) => e.code === 'MCPEG_ERR_SESSION_NOT_FOUND' && e.message === 'nothing here');
    await assert.rejects(a.request('000000000000', { kind: 'double', n: 1 }, 300, 'o'), (e: GatewayError) => e.code === 'MCPEG_ERR_STATE_UNAVAILABLE');
    await assert.rejects(a.request(b.instanceId, { kind: 'double', pad: 'x'.repeat(5000) }, 2000, 'o'), (e: GatewayError) => e.code === 'MCPEG_ERR_OVERLOADED');
  });

  it('request() gets a precise error at once when the answer is too large to pass back, not a timeout', async () => {
    const [{ bus: a }, { bus: b }] = [await bus(), await bus()];
    b.answer('big', async () => ({ pad: 'x'.repeat(5000) }));
    b.answer('big-error', async () => {
      throw new GatewayError('MCPEG_ERR_INTERNAL', 'y'.repeat(5000));
    });
    const started = Date.now();
    await assert.rejects(
      a.request(b.instanceId, { kind: 'big' }, 10_000, 'o'),
      (e: GatewayError) => e.code === 'MCPEG_ERR_OVERLOADED' && /answer to big .* too large/.test(e.message),
    );
    await assert.rejects(
      a.request(b.instanceId, { kind: 'big-error' }, 10_000, 'o'),
      (e: GatewayError) => e.code === 'MCPEG_ERR_OVERLOADED' && /answer to big-error .* too large/.test(e.message),
    );
    assert.ok(Date.now() - started < 5000, 'answered at once');
  });

  it('request() fails at once when the message cannot be published (Redis away), not at its deadline', async () => {
    // A connection whose publishes fail as node-redis's do while Redis is away (no offline queue).
    const fake = { multi: () => ({ set: () => undefined, exec: async () => [] }) };
    const down = {
      prefix,
      subscriber: { subscribe: async () => {}, on: () => {} },
      run: async (what: string, fn: (c: unknown) => Promise<unknown>) => {
        if (what.startsWith('publishing')) throw new GatewayError('MCPEG_ERR_STATE_UNAVAILABLE', 'The client is closed');
        return fn(fake);
      },
    } as unknown as RedisState;
    const b = await RedisBus.open(down, silentLogger(), 4096);
    cleanups.push(async () => b.close());
    const started = Date.now();
    await assert.rejects(b.request('000000000000', { kind: 'x' }, 10_000, 'o'), (e: GatewayError) => e.code === 'MCPEG_ERR_STATE_UNAVAILABLE' && /cannot reach/.test(e.message));
    assert.ok(Date.now() - started < 1000);
  });

  it('send() tells the sender when no instance listens for the one it named; request() to it fails at once', async () => {
    const [{ bus: a }, { bus: b }] = [await bus(), await bus()];
    const heard: BusMessage[] = [];
    b.on('t', (m) => heard.push(m));
    const failures: Array<{ to: string; storeUnavailable: boolean; message: string }> = [];
    const note = (to: string) => (why: { storeUnavailable: boolean; message: string }) => failures.push({ to, ...why });
    assert.equal(a.send('000000000000', { kind: 't', n: 1 }, note('nobody')), true);
    assert.equal(a.send(b.instanceId, { kind: 't', n: 2 }, note('b')), true);
    assert.equal(a.send('*', { kind: 't', n: 3 }, note('all')), true);
    await waitFor(() => failures.length === 1 && heard.length === 2, 'the failure and the deliveries');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(failures, [{ to: 'nobody', storeUnavailable: false, message: failures[0].message }]);
    assert.match(failures[0].message, /no gateway instance listens for instance 000000000000/);
    const started = Date.now();
    await assert.rejects(
      a.request('000000000000', { kind: 'x' }, 10_000, 'o'),
      (e: GatewayError) => e.code === 'MCPEG_ERR_STATE_UNAVAILABLE' && /no gateway instance listens/.test(e.message),
    );
    assert.ok(Date.now() - started < 5000, 'not at its 10 s deadline');
  });

  it('publishes waiting for a stalled Redis are bounded: past the bound a message fails at once, its sender told', async () => {
    // Publishes that never finish, as with Redis stopped (SIGSTOP) before command_timeout.
    const fake = { multi: () => ({ set: () => undefined, exec: async () => [] }) };
    const stalled = (maxBytes: number) => {
      const state = {
        prefix,
        subscriber: { subscribe: async () => {}, on: () => {} },
        run: (what: string, fn: (c: unknown) => Promise<unknown>) => (what.startsWith('publishing') ? new Promise(() => {}) : fn(fake)),
      } as unknown as RedisState;
      return RedisBus.open(state, silentLogger(), maxBytes);
    };
    const b = await stalled(4096);
    cleanups.push(async () => b.close());
    const failed: string[] = [];
    for (let i = 0; i < MAX_PUBLISHING; i++) b.send('000000000000', { kind: 't', i }, () => failed.push(`early ${i}`));
    assert.equal(
      b.send('000000000000', { kind: 't', i: 'over' }, (why) => failed.push(`${why.storeUnavailable}: ${why.message}`)),
      true,
    );
    await waitFor(() => failed.length > 0, 'the message past the bound failed');
    assert.deepEqual(failed, [`true: ${MAX_PUBLISHING} messages are already waiting for the shared state store`]);
    // Bytes: one message alone may be as large as the bus allows; a second that would pass MAX_PUBLISHING_BYTES waiting fails.
    const half = Math.floor(MAX_PUBLISHING_BYTES / 2) + 1;
    const c = await stalled(MAX_PUBLISHING_BYTES);
    cleanups.push(async () => c.close());
    const byBytes: boolean[] = [];
    c.send('000000000000', { kind: 't', pad: 'x'.repeat(half) }, (why) => byBytes.push(why.storeUnavailable));
    c.send('000000000000', { kind: 't', pad: 'y'.repeat(half) }, (why) => byBytes.push(why.storeUnavailable));
    await waitFor(() => byBytes.length === 1, 'the second large message failed');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(byBytes, [true]);
  });

  it("one owner's publishes take at most MAX_PUBLISHING_PER_OWNER places; another owner's still go; failures warn once per owner", async () => {
    const fake = { multi: () => ({ set: () => undefined, exec: async () => [] }) };
    const state = {
      prefix,
      subscriber: { subscribe: async () => {}, on: () => {} },
      run: (what: string, fn: (c: unknown) => Promise<unknown>) => (what.startsWith('publishing') ? new Promise(() => {}) : fn(fake)),
    } as unknown as RedisState;
    const warns: string[] = [];
    const log = createLogger('warn', { write: (line: string) => void warns.push(line) });
    const b = await RedisBus.open(state, log, 4096);
    cleanups.push(async () => b.close());
    const failed: string[] = [];
    for (let i = 0; i < MAX_PUBLISHING_PER_OWNER + 500; i++) b.send('000000000000', { kind: 't', i }, (why) => failed.push(why.message), 'greedy');
    await waitFor(() => failed.length === 500, "the greedy owner's messages past its share failed");
    assert.match(failed[0], new RegExp(`its share is ${MAX_PUBLISHING_PER_OWNER}`));
    const other: string[] = [];
    b.send('000000000000', { kind: 't' }, (why) => other.push(why.message), 'bystander');
    b.send('000000000000', { kind: 't' }, (why) => other.push(why.message));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(other, [], "another owner's message, and one of no owner, still wait for Redis");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(warns.filter((l) => l.includes('too many waiting')).length, 1, '500 failures of one owner: one warn line');
  });

  it('a stream record names its holder and is released only by it', async () => {
    const [{ bus: a }, { bus: b }] = [await bus(), await bus()];
    a.holdStream('s1');
    await waitFor(async () => (await b.streamHolder('s1')) === a.instanceId, 'A recorded as holder');
    b.holdStream('s1');
    await waitFor(async () => (await a.streamHolder('s1')) === b.instanceId, 'B took the stream over');
    a.releaseStream('s1');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await a.streamHolder('s1'), b.instanceId, "A's release leaves B's record");
    b.releaseStream('s1');
    await waitFor(async () => (await a.streamHolder('s1')) === undefined, 'released');
  });

  it('one owner waits on at most MAX_PENDING_PER_OWNER requests; another still gets a place', async () => {
    const { bus: a } = await bus();
    // Requests to an instance that does not exist: they wait until their deadline (or the bus closes).
    const waiting = Array.from({ length: MAX_PENDING_PER_OWNER }, () => a.request('000000000000', { kind: 'x' }, 60_000, 'session-1').catch((e: GatewayError) => e));
    await assert.rejects(
      a.request('000000000000', { kind: 'x' }, 60_000, 'session-1'),
      (e: GatewayError) => e.code === 'MCPEG_ERR_OVERLOADED' && e.message.includes(`${MAX_PENDING_PER_OWNER} requests`),
    );
    const other = a.request('000000000000', { kind: 'x' }, 60_000, 'session-2').catch((e: GatewayError) => e);
    a.close();
    // Both owners' requests were waiting (not refused): they end with the shutdown.
    for (const e of [...(await Promise.all(waiting)), await other]) assert.equal((e as GatewayError).code, 'MCPEG_ERR_SHUTTING_DOWN');
  });

  it('a stream holder is looked up once, then remembered until the stream moves or is released', async () => {
    const lookups = { n: 0 };
    const counting = (r: RedisState): RedisState =>
      Object.assign(Object.create(r) as RedisState, {
        run: <T>(what: string, fn: (c: RedisState['client']) => Promise<T>) => {
          if (what === 'finding the instance holding a stream') lookups.n++;
          return r.run(what, fn);
        },
      });
    // Remembered for a minute: only an instance saying the stream moved makes A look again.
    const [{ bus: a }, { bus: b }, { bus: c }] = [await bus(4096, { holderCacheMs: 60_000 }, counting), await bus(), await bus()];
    b.holdStream('s2');
    await waitFor(async () => (await a.streamHolder('s2')) === b.instanceId, 'B recorded as holder');
    // B announces the move once its record is written: A may read the record before that message
    // arrives, and then forgets what it read (CI saw one lookup more on Node 24). Let it arrive, look once more.
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(await a.streamHolder('s2'), b.instanceId);
    const before = lookups.n;
    const answers = await Promise.all(Array.from({ length: 50 }, () => a.streamHolder('s2')));
    assert.ok(answers.every((h) => h === b.instanceId));
    assert.equal(lookups.n, before, 'no lookup while remembered');
    c.holdStream('s2');
    await waitFor(async () => (await a.streamHolder('s2')) === c.instanceId, 'C, once it took the stream over');
    c.releaseStream('s2');
    await waitFor(async () => (await a.streamHolder('s2')) === undefined, 'nobody, once C released it');
  });

  it('records are refreshed CLAIM_CHUNK per MULTI, however many streams an instance holds', async () => {
    const multis: number[] = [];
    const fake = {
      multi: () => {
        let n = 0;
        const m = {
          set: () => {
            n++;
            return m;
          },
          exec: async () => void multis.push(n),
        };
        return m;
      },
      publish: async () => 0,
    };
    let running = 0;
    const run = async (_what: string, fn: (c: unknown) => Promise<unknown>) => {
      running++;
      try {
        return await fn(fake);
      } finally {
        running--;
      }
    };
    const redis = { prefix, subscriber: { subscribe: async () => {}, on: () => {} }, run } as unknown as RedisState;
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      const b = await RedisBus.open(redis, silentLogger(), 4096);
      cleanups.push(async () => b.close());
      const held = 2 * CLAIM_CHUNK + 200;
      for (let i = 0; i < held; i++) b.holdStream(`s${i}`);
      await waitFor(() => multis.length === 1 + held && running === 0, 'each stream claimed as it opened');
      multis.length = 0;
      mock.timers.tick(10_000);
      await waitFor(() => multis.reduce((x, y) => x + y, 0) === held + 1, 'the refresh: every stream and the instance itself');
      assert.deepEqual(multis, [CLAIM_CHUNK + 1, CLAIM_CHUNK, 200]);
    } finally {
      mock.timers.reset();
    }
  });

  it('alive() is true while an instance runs and false once it closed', async () => {
    const [{ bus: a }, { bus: b }] = [await bus(), await bus()];
    await waitFor(() => a.alive(b.instanceId), 'B alive');
    assert.equal(await a.alive('000000000000'), false);
    b.close();
    await waitFor(async () => !(await a.alive(b.instanceId)), 'B gone');
  });
});
