/**
 * state/config-sync.ts against real Redis (test/helpers/redis.ts): a burst of changes
 * announced while this instance is still applying an earlier one costs one read of the
 * shared config, not one per announcement, and ends on the latest version.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { ConfigSync } from '../../../src/state/config-sync.js';
import { connectRedis, type RedisState } from '../../../src/state/redis.js';
import { waitFor } from '../../helpers/gateway.js';
import { REDIS_URL, redisPrefix } from '../../helpers/redis.js';

describe('ConfigSync', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('coalesces the catch-ups a burst of announcements queues: one read for the burst, the latest version applied', async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const connect = async () => {
      const r = await connectRedis({ url: REDIS_URL, key_prefix: prefix, connect_timeout: 2000, command_timeout: 2000, reconnect_max_delay: 500 }, silentLogger());
      cleanups.push(() => r.close());
      return r;
    };
    const base = validateConfig({ server: { host: '127.0.0.1', port: 0 } }, 'test');
    const version = (n: number) => validateConfig({ server: { host: '127.0.0.1', port: 0, max_sessions: 100 + n } }, 'test');
    const ra = await connect();
    const rb = await connect();
    // B's reads of the shared config and the announcements it hears, counted.
    let reads = 0;
    let heard = 0;
    const sub = rb.subscriber;
    const counted = Object.assign(Object.create(rb) as RedisState, {
      run: <T>(what: string, fn: (c: RedisState['client']) => Promise<T>) => {
        if (what === 'reading the shared config') reads++;
        return rb.run(what, fn);
      },
      subscriber: {
        subscribe: (channel: string, listener: (m: string) => void) =>
          sub.subscribe(channel, (m: string) => {
            heard++;
            listener(m);
          }),
        unsubscribe: (channel: string) => sub.unsubscribe(channel),
        on: (e: string, f: () => void) => sub.on(e, f),
        off: (e: string, f: () => void) => sub.off(e, f),
      } as unknown as RedisState['subscriber'],
    });
    const a = new ConfigSync(ra, silentLogger());
    const b = new ConfigSync(counted, silentLogger());
    cleanups.push(() => b.stop());
    // B applies the first change slowly: everything announced meanwhile waits.
    const applied: number[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    await b.follow(
      () => base,
      async (next: Readonly<Config>) => {
        applied.push(next.server.max_sessions - 100);
        if (applied.length === 1) await slow;
      },
    );
    await waitFor(() => reads === 1, 'the catch-up made on following');
    await a.publish(version(1));
    await waitFor(() => applied.length === 1, 'B applying version 1');
    for (let n = 2; n <= 20; n++) await a.publish(version(n));
    await waitFor(() => heard === 20, 'B hearing every announcement');
    release();
    await waitFor(() => b.version === 20, 'B on version 20');
    assert.deepEqual(applied, [1, 20]);
    assert.equal(reads, 3, 'following, version 1, then one read for the 19 announced while 1 was applied');
  });

  it('reads the shared config again when a catch-up could not (Redis restarting): a change published meanwhile is applied', async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const connect = async () => {
      const r = await connectRedis({ url: REDIS_URL, key_prefix: prefix, connect_timeout: 2000, command_timeout: 2000, reconnect_max_delay: 500 }, silentLogger());
      cleanups.push(() => r.close());
      return r;
    };
    const base = validateConfig({ server: { host: '127.0.0.1', port: 0 } }, 'test');
    const ra = await connect();
    const rb = await connect();
    // B's reads fail while `down` (as a command connection not back yet, or past its bound of unanswered commands).
    let down = false;
    let failed = 0;
    const flaky = Object.assign(Object.create(rb) as RedisState, {
      run: <T>(what: string, fn: (c: RedisState['client']) => Promise<T>) => {
        if (what === 'reading the shared config' && down) {
          failed++;
          return Promise.reject(new Error('shared state store unavailable'));
        }
        return rb.run(what, fn);
      },
    });
    const a = new ConfigSync(ra, silentLogger());
    const b = new ConfigSync(flaky, silentLogger());
    cleanups.push(() => b.stop());
    const applied: number[] = [];
    await b.follow(
      () => base,
      async (next: Readonly<Config>) => {
        applied.push(next.server.max_sessions);
      },
    );
    down = true;
    await a.publish(validateConfig({ server: { host: '127.0.0.1', port: 0, max_sessions: 123 } }, 'test'));
    await waitFor(() => failed >= 1, "B's catch-up failing");
    down = false;
    // Nothing else is published: only B reading again finds the change.
    await waitFor(() => applied.length === 1, 'B applying the change it could not read', 5000);
    assert.deepEqual(applied, [123]);
    assert.equal(b.version, 1);
  });
});
