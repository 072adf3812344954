/**
 * A Lua script run by its SHA-1 (EVALSHA: the body crosses the wire once), falling back
 * to EVAL when Redis does not know it (NOSCRIPT: first use, or Redis restarted and lost
 * its script cache), which also loads it for the next call. A script runs atomically
 * (Redis runs nothing else meanwhile): one round trip, no races between instances.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from './redis.js';

export class LuaScript {
  readonly sha: string;
  constructor(readonly body: string) {
    this.sha = createHash('sha1').update(body).digest('hex');
  }

  async run(c: RedisClient, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await c.evalSha(this.sha, { keys, arguments: args });
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return c.eval(this.body, { keys, arguments: args });
    }
  }
}
