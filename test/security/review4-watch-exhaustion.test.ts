/**
 * Attack (review 4): one client takes every resource subscription a 2026-07-28-only
 * backend can be asked for, so that no other stateful client can subscribe.
 *
 * A stateful client's resources/subscribe on such a backend joins the replica's one
 * subscriptions/listen stream, whose URIs are bounded for the whole replica (1000, 256
 * KiB). One session subscribing to a single URI of about 256 KiB (or to 1000 URIs, the
 * session limit being 1000 too) filled that bound, and every other client's subscribe
 * was refused (-32602) for as long as the attacker's session lived. Each session now
 * holds at most a share of it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { connectClient, rawSession, startGateway } from '../helpers/gateway.js';
import { MAX_WATCHED_CHARS } from '../../src/upstream/resource-watch.js';

const MODERN = fileURLToPath(new URL('../fixtures/stateless-server.js', import.meta.url));

describe('review4: one client cannot take every resource subscription of a 2026-07-28-only backend', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    gw = await startGateway({ backends: { only: { type: 'mcp', command: process.execPath, args: [MODERN, '--stdio', '--modern-only'] } } });
  });
  after(async () => gw?.close());

  it('another client still subscribes after one subscribed to a URI as long as the whole bound', async () => {
    const evil = await rawSession(gw.url);
    const huge = `test://${'x'.repeat(MAX_WATCHED_CHARS - 16)}`;
    const r = await evil.post({ jsonrpc: '2.0', id: 1, method: 'resources/subscribe', params: { uri: huge } });
    await r.text();
    const victim = await connectClient(gw.url);
    try {
      await assert.doesNotReject(victim.subscribeResource({ uri: 'test://watched-resource' }));
    } finally {
      await victim.close();
    }
  });
});
