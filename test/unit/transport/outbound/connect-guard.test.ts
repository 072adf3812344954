/**
 * The connect guard (src/transport/outbound/connect-guard.ts): a host name is resolved when
 * the connection opens, and an address the check refuses is never connected to, whatever
 * the name was when discovery checked it. "localhost" stands for a name that resolves to an
 * address the test's check refuses (the system resolver answers it without DNS); a real
 * recorder listens there and must see nothing. Both transports are covered: the Streamable
 * HTTP client's pool and the fetch handed to the SDK's SSE client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectGuard } from '../../../../src/transport/outbound/connect-guard.js';
import { StreamableHttpClient } from '../../../../src/transport/outbound/http-transport.js';
import { type HttpRecorder, startRecorder } from '../../../helpers/http-recorder.js';

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;
const refuseLoopback = connectGuard((a) => (LOOPBACK.test(a) ? `${a} refused by the test` : undefined));
const allowAll = connectGuard(() => undefined);

describe('connect guard', () => {
  let rec: HttpRecorder;
  before(async () => {
    rec = await startRecorder();
    rec.route('*', /.*/, { status: 202 });
  });
  after(() => rec.close());

  it('fetch (the SSE client): a name resolving only to refused addresses is not connected to; allowed, it is', async () => {
    const url = `http://localhost:${rec.port}/sse`;
    await assert.rejects(refuseLoopback.fetch(url, { headers: { authorization: 'Bearer secret' } }), (err: Error & { cause?: Error }) =>
      /not connected to: .*refused by the test/.test(String(err.cause?.message ?? err.message)),
    );
    assert.equal(rec.all().length, 0);
    const ok = await allowAll.fetch(url, { headers: { authorization: 'Bearer secret' } });
    assert.equal(ok.status, 202);
    assert.equal(rec.all().length, 1);
    rec.reset();
    rec.route('*', /.*/, { status: 202 });
  });

  it('an IP literal (which node:net connects to without a lookup) is checked too: fetch (and a redirect it follows) and the Streamable HTTP pool', async () => {
    const never = connectGuard((a) => (a === '0.0.0.0' ? `${a} refused by the test` : undefined));
    // 0.0.0.0 reaches the recorder on 127.0.0.1 (Linux connects it to the local host).
    const literal = `http://0.0.0.0:${rec.port}/sse`;
    await assert.rejects(never.fetch(literal), (err: Error & { cause?: Error }) => /not connected to: .*refused by the test/.test(String(err.cause?.message ?? err.message)));
    assert.equal(rec.all().length, 0);
    // A redirect the fetch follows goes through the same check.
    const hop = await startRecorder();
    hop.route('*', /.*/, { status: 307, headers: { location: literal } });
    try {
      await assert.rejects(never.fetch(`${hop.url}/sse`));
      assert.equal(hop.all().length, 1);
      assert.equal(rec.all().length, 0, 'the redirect to 0.0.0.0 was followed');
    } finally {
      await hop.close();
    }
    const client = new StreamableHttpClient(new URL(`http://0.0.0.0:${rec.port}/mcp`), {}, undefined, never);
    await assert.rejects(client.send({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }), /not connected to|refused by the test/);
    assert.equal(rec.all().length, 0);
    await client.close();
    // Allowed literals connect as before.
    const ok = await never.fetch(`http://127.0.0.1:${rec.port}/sse`);
    assert.equal(ok.status, 202);
    assert.equal(rec.all().length, 1);
    rec.reset();
    rec.route('*', /.*/, { status: 202 });
  });

  it('Streamable HTTP: the pool of a guarded client checks the address; an unguarded client of the same origin has its own pool', async () => {
    const url = new URL(`http://localhost:${rec.port}/mcp`);
    const guarded = new StreamableHttpClient(url, { authorization: 'Bearer secret' }, undefined, refuseLoopback);
    await assert.rejects(guarded.send({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }), /not connected to|refused by the test/);
    assert.equal(rec.all().length, 0, 'no request reached the refused address');
    const plain = new StreamableHttpClient(url, { authorization: 'Bearer secret' });
    await plain.send({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' });
    assert.equal(rec.all().length, 1);
    await guarded.send({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }).then(
      () => assert.fail('the guarded client used the unguarded pool'),
      () => {},
    );
    assert.equal(rec.all().length, 1);
    await guarded.close();
    await plain.close();
  });
});
