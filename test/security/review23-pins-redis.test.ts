/**
 * Attack (availability): Redis restarts under a gateway that pins tool definitions in it
 * (`state.store: redis`, `pinning`). The pins are read again whenever the subscription
 * comes back (a change published meanwhile is lost otherwise); when the command connection
 * was not back yet (or, since review 22, past its bound on unanswered commands, which a
 * client's load can reach), that read failed and the failure was an unhandled rejection:
 * the whole gateway process exited 1, on every instance at once, at an ordinary Redis
 * restart (review 23). Now the previous pins stay in force, the read is tried again each
 * second until the store answers, and the gateway keeps serving. Against a real
 * `mcpeg gateway` process and a real, private redis-server restarted several times.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { connectClient, spawnGateway, waitFor, type GatewayProcess } from '../helpers/gateway.js';
import { greet, pinBackend, writeState } from '../helpers/pins.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';

describe('pins in Redis: a Redis restart does not end the gateway', { timeout: 120_000 }, () => {
  let dir: string;
  let redis: PrivateRedis;
  let g: GatewayProcess;
  let exit: string | undefined;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-r23-pins-'));
    redis = await startPrivateRedis();
    const file = join(dir, 'mcpeg.yaml');
    writeFileSync(
      file,
      stringify({
        server: { host: '127.0.0.1', port: 0 },
        paths: { data: join(dir, 'data') },
        state: { store: 'redis', redis: { url: redis.url, key_prefix: 'r23:' } },
        pinning: { mode: 'block' },
        backends: { pinned: pinBackend(writeState(dir, [greet()])) },
      }),
    );
    g = await spawnGateway(file);
    g.proc.once('exit', (code, signal) => (exit = `${code ?? signal}`));
  });
  after(async () => {
    g?.proc.kill('SIGKILL');
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('survives Redis restarts, and serves the pinned tool after them', async () => {
    for (let i = 0; i < 6; i++) {
      await redis.kill();
      await new Promise((r) => setTimeout(r, 300));
      await redis.restart();
      // Both connections reconnect (node-redis backs off), the subscription's comes back, the pins are read again.
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(exit, undefined, `after restart ${i + 1} the gateway exited (${exit}): ${g.stderr().slice(-2500)}`);
    }
    const client = await connectClient(g.url);
    try {
      await waitFor(async () => (await client.listTools()).tools.some((t) => t.name.endsWith('greet')), 'the pinned tool, served', 15_000, 200);
    } finally {
      await client.close();
    }
  });
});
