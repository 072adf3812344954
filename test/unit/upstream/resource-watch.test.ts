/**
 * ResourceWatch: stateful clients' resource subscriptions on a 2026-07-28-only replica,
 * held as `resourceSubscriptions` of one subscriptions/listen stream. The backend here is
 * a stand-in connection that acknowledges each listen with the URIs it chooses to honour.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { GatewayError } from '../../../src/errors/catalog.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { BackendConnection, CallOptions } from '../../../src/upstream/connection.js';
import { MAX_WATCHED, MAX_WATCHED_CHARS, MAX_WATCHED_PER_HOLDER, ResourceWatch } from '../../../src/upstream/resource-watch.js';

/** Listen requests seen (their URIs), each acknowledged at once with what `honour` keeps; cancelled ones end. */
function backend(honour: (uri: string) => boolean = () => true) {
  const listens: Array<{ uris: string[]; cancelled: boolean }> = [];
  const conn = {
    isClosed: false,
    request(method: string, params: { notifications: { resourceSubscriptions: string[] } }, opts: CallOptions) {
      assert.equal(method, 'subscriptions/listen');
      const entry = { uris: params.notifications.resourceSubscriptions, cancelled: false };
      listens.push(entry);
      return new Promise((_resolve, reject) => {
        opts.cancel?.onCancel(() => {
          entry.cancelled = true;
          reject(new Error('cancelled'));
        });
        queueMicrotask(() =>
          opts.onNotification?.({
            jsonrpc: '2.0',
            method: 'notifications/subscriptions/acknowledged',
            params: { notifications: { resourceSubscriptions: entry.uris.filter(honour) } },
          }),
        );
      });
    },
  };
  const watch = new ResourceWatch({ name: 'b', log: silentLogger(), timeoutMs: 1000, connection: () => conn as unknown as BackendConnection });
  return { watch, listens };
}

const holder = () => ({ isClosed: false });

it('holds every subscribed URI on one stream, replacing it when the set changes, and ends it when none is left', async () => {
  const { watch, listens } = backend();
  const a = holder();
  await watch.subscribe('test://a', a);
  await watch.subscribe('test://b', a);
  assert.deepEqual(
    listens.map((l) => [l.uris, l.cancelled]),
    [
      [['test://a'], true],
      [['test://a', 'test://b'], false],
    ],
  );
  // Same set again: no new stream.
  await watch.subscribe('test://a', holder());
  assert.equal(listens.length, 2);
  await watch.unsubscribe('test://b', a);
  await watch.unsubscribe('test://a', a);
  assert.deepEqual(listens.at(-1)?.uris, ['test://a'], 'another holder still has test://a');
  assert.equal(listens.at(-1)?.cancelled, false);
  watch.stop();
});

it('coalesces a burst of subscriptions into at most two streams', async () => {
  const { watch, listens } = backend();
  await Promise.all(Array.from({ length: 50 }, (_, i) => watch.subscribe(`test://r${i}`, holder())));
  assert.ok(listens.length <= 2, `${listens.length} listen streams`);
  assert.equal(listens.at(-1)?.uris.length, 50);
  watch.stop();
});

it('answers -32601 for a URI the backend does not honour, and forgets it', async () => {
  const { watch, listens } = backend((u) => u !== 'test://no');
  await assert.rejects(watch.subscribe('test://no', holder()), (err: GatewayError) => err.code === 'MCPEG_ERR_METHOD_NOT_FOUND' && err.toJsonRpc().code === -32601);
  await watch.subscribe('test://yes', holder());
  assert.deepEqual(listens.at(-1)?.uris, ['test://yes']);
  watch.stop();
});

it('prunes closed sessions, and bounds the URIs it watches in number and length', async () => {
  const { watch, listens } = backend();
  const gone = { isClosed: false };
  await watch.subscribe('test://old', gone);
  gone.isClosed = true;
  await watch.subscribe('test://new', holder());
  assert.deepEqual(listens.at(-1)?.uris, ['test://new']);
  await assert.rejects(watch.subscribe(`test://${'x'.repeat(MAX_WATCHED_CHARS)}`, holder()), (err: GatewayError) => err.code === 'MCPEG_ERR_INVALID_PARAMS');
  await Promise.all(Array.from({ length: MAX_WATCHED - 1 }, (_, i) => watch.subscribe(`test://n${i}`, holder())));
  await assert.rejects(watch.subscribe('test://one-too-many', holder()), (err: GatewayError) => err.code === 'MCPEG_ERR_INVALID_PARAMS');
  watch.stop();
});

it('lets one holder take only a share of the bounds, and gives it back on unsubscribe', async () => {
  const { watch } = backend();
  const greedy = holder();
  await Promise.all(Array.from({ length: MAX_WATCHED_PER_HOLDER }, (_, i) => watch.subscribe(`test://g${i}`, greedy)));
  await assert.rejects(watch.subscribe('test://g-more', greedy), (err: GatewayError) => err.code === 'MCPEG_ERR_INVALID_PARAMS');
  await watch.subscribe('test://g0', greedy); // one it holds already: no new share
  await watch.subscribe('test://other', holder());
  await watch.unsubscribe('test://g1', greedy);
  await watch.subscribe('test://g-more', greedy);
  watch.stop();
});

it('lets a closed session’s URIs go when it closes, not at the next subscribe', async () => {
  const { watch, listens } = backend();
  const hooks: Array<() => void> = [];
  const closing = { isClosed: false, whenClosed: (fn: () => void) => void hooks.push(fn) };
  const stays = holder();
  await watch.subscribe('test://a', stays);
  await watch.subscribe('test://b', closing);
  await watch.subscribe('test://c', closing);
  assert.equal(hooks.length, 1, 'one close hook per holder, however many URIs it holds');
  assert.deepEqual(listens.at(-1)?.uris, ['test://a', 'test://b', 'test://c']);
  closing.isClosed = true;
  for (const fn of hooks) fn();
  // The stream is replaced by one without the closed session's URIs, and the old one cancelled.
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(listens.at(-1)?.uris, ['test://a']);
  assert.equal(listens.at(-2)?.cancelled, true);
  // The last holder closing ends the stream altogether.
  const last = { isClosed: false, whenClosed: (fn: () => void) => void hooks.push(fn) };
  await watch.unsubscribe('test://a', stays);
  await watch.subscribe('test://d', last);
  last.isClosed = true;
  hooks.at(-1)?.();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(listens.at(-1)?.cancelled, true, 'no subscriptions left: the listen stream is cancelled');
  watch.stop();
});
