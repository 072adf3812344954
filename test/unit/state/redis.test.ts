/**
 * state/redis.ts against a private redis-server (test/helpers/redis-server.ts) killed and
 * started again: each connection (commands, subscriptions) logs its loss once however many
 * reconnects fail, and its recovery once, every outage.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../../src/observability/logger.js';
import { connectRedis } from '../../../src/state/redis.js';
import { waitFor } from '../../helpers/gateway.js';
import { startPrivateRedis } from '../../helpers/redis-server.js';

describe('connectRedis: outages in the log', { timeout: 120_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('logs each connection lost once and back once, per outage', async () => {
    const server = await startPrivateRedis();
    cleanups.push(() => server.stop());
    const lines: Array<{ msg: string; connection?: string }> = [];
    const log = createLogger('info', {
      write: (s: string) =>
        void lines.push(
          ...s
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l)),
        ),
    });
    const redis = await connectRedis({ url: server.url, key_prefix: 'x:', connect_timeout: 2000, command_timeout: 1000, reconnect_max_delay: 100 }, log);
    cleanups.push(() => redis.close());
    const count = (connection: string, what: RegExp) => lines.filter((l) => l.connection === connection && what.test(l.msg)).length;
    const LOST = /unreachable|subscription lost/;
    const BACK = /reachable again|subscription restored/;
    let reconnects = 0;
    redis.client.on('reconnecting', () => reconnects++);
    redis.subscriber.on('reconnecting', () => reconnects++);

    for (let outage = 1; outage <= 2; outage++) {
      await server.kill();
      await waitFor(() => count('commands', LOST) === outage && count('subscriptions', LOST) === outage, `outage ${outage} logged for both connections`, 20_000);
      // Several reconnects fail while Redis is away: none is logged again.
      const failedBefore = reconnects;
      await waitFor(() => reconnects >= failedBefore + 6, 'reconnects failing', 20_000);
      assert.equal(count('commands', LOST), outage);
      assert.equal(count('subscriptions', LOST), outage);
      await server.restart();
      await waitFor(() => count('commands', BACK) === outage && count('subscriptions', BACK) === outage, `recovery ${outage} logged for both connections`, 20_000);
      assert.equal(await redis.run('a check', (c) => c.ping()), 'PONG');
    }
    assert.equal(count('commands', BACK), 2);
    assert.equal(count('subscriptions', BACK), 2);
  });
});
