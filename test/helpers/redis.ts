/**
 * The Redis the scale-out tests share: 127.0.0.1:6379 (pre-started on the CI machine; .ci/run
 * installs and starts redis-server when nothing answers there). Each test takes a key prefix
 * of its own and deletes its keys afterwards, so tests never see each other's state.
 */
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';

export const REDIS_URL = process.env.MCPEG_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix, and a cleanup that deletes every key under it. */
export function redisPrefix(): { prefix: string; cleanup(): Promise<void> } {
  const prefix = `mcpeg-test:${randomUUID()}:`;
  return {
    prefix,
    async cleanup() {
      const c = createClient({ url: REDIS_URL });
      await c.connect();
      try {
        for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) if (keys.length) await c.del(keys);
      } finally {
        await c.close();
      }
    },
  };
}

/** Keys under a prefix (to assert what the gateway stored). */
export async function redisKeys(prefix: string): Promise<string[]> {
  const c = createClient({ url: REDIS_URL });
  await c.connect();
  try {
    const out: string[] = [];
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) out.push(...keys);
    return out.sort();
  } finally {
    await c.close();
  }
}

/**
 * The ids of the SSE events Redis holds for a session (`<stream>_<seq>`, as sent): the
 * gateway writes them asynchronously, after they are on the wire (docs/scaling.md).
 */
export async function storedEventIds(prefix: string, sessionId: string): Promise<string[]> {
  const c = createClient({ url: REDIS_URL });
  await c.connect();
  try {
    const entries = (await c.xRange(`${prefix}events:${sessionId}`, '-', '+')) ?? [];
    return entries.map((e) => `${e.message.s}_${e.message.q}`);
  } finally {
    await c.close();
  }
}
