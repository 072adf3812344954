/** ClientRequestBudget (src/protocol/client-requests.ts): how many backend requests to one client wait at once, and their size, per session and per backend. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ClientRequestBudget,
  MAX_CLIENT_REQUEST_CHARS,
  MAX_CLIENT_REQUEST_CHARS_PER_BACKEND,
  MAX_CLIENT_REQUESTS,
  MAX_CLIENT_REQUESTS_PER_BACKEND,
} from '../../../src/protocol/client-requests.js';
import { GatewayError } from '../../../src/errors/catalog.js';

const overloaded = (err: unknown) => err instanceof GatewayError && err.code === 'MCPEG_ERR_OVERLOADED' && err.data?.bound === 'client_requests';
/** Refused at `share` for `backend`, naming the limit `key` it hit. */
const hit = (share: string, backend: string, key: 'limit' | 'limitChars', limit: number) => (err: unknown) => {
  assert.ok(overloaded(err), String(err));
  const data = (err as GatewayError).data!;
  assert.deepEqual([data.share, data.backend, data[key]], [share, backend, limit]);
  return true;
};
/** Params whose JSON text is `chars` long. */
const sized = (chars: number) => ({ t: 'x'.repeat(chars - '{"t":""}'.length) });

describe('ClientRequestBudget', () => {
  it(`refuses a backend's ${MAX_CLIENT_REQUESTS_PER_BACKEND + 1}th waiting request, to that backend only; others still get room`, () => {
    const b = new ClientRequestBudget();
    const xs = Array.from({ length: MAX_CLIENT_REQUESTS_PER_BACKEND }, () => b.take('x', 'elicitation/create', { message: 'approve?' }));
    assert.throws(() => b.take('x', 'elicitation/create', { message: 'approve?' }), hit('per_backend', 'x', 'limit', MAX_CLIENT_REQUESTS_PER_BACKEND));
    b.take('y', 'sampling/createMessage', { maxTokens: 1 });
    xs[0]!();
    xs[0]!();
    b.take('x', 'elicitation/create', undefined);
    assert.throws(() => b.take('x', 'roots/list', undefined), overloaded, 'a second release of one request gives nothing back');
  });

  it(`refuses the session's ${MAX_CLIENT_REQUESTS + 1}th waiting request, whichever backend asks`, () => {
    const b = new ClientRequestBudget();
    const backends = MAX_CLIENT_REQUESTS / MAX_CLIENT_REQUESTS_PER_BACKEND;
    const held = Array.from({ length: backends }, (_, i) => Array.from({ length: MAX_CLIENT_REQUESTS_PER_BACKEND }, () => b.take(`b${i}`, 'roots/list', undefined)));
    assert.throws(() => b.take('late', 'roots/list', undefined), hit('per_session', 'late', 'limit', MAX_CLIENT_REQUESTS));
    held[0]![0]!();
    b.take('late', 'roots/list', undefined);
    assert.throws(() => b.take('b1', 'roots/list', undefined), hit('per_session', 'b1', 'limit', MAX_CLIENT_REQUESTS));
  });

  it("refuses params past a backend's share of the size bound to that backend; others still get room", () => {
    const b = new ClientRequestBudget();
    const third = Math.floor(MAX_CLIENT_REQUEST_CHARS_PER_BACKEND / 3);
    const first = b.take('x', 'sampling/createMessage', sized(third));
    b.take('x', 'sampling/createMessage', sized(third));
    b.take('x', 'sampling/createMessage', sized(third));
    assert.throws(() => b.take('x', 'sampling/createMessage', sized(third)), hit('per_backend', 'x', 'limitChars', MAX_CLIENT_REQUEST_CHARS_PER_BACKEND));
    b.take('y', 'sampling/createMessage', sized(third));
    first();
    b.take('x', 'sampling/createMessage', sized(third));
  });

  it('refuses params past the size bound of the session together', () => {
    const b = new ClientRequestBudget();
    const share = MAX_CLIENT_REQUEST_CHARS_PER_BACKEND;
    const held = ['a', 'b', 'c'].map((name) => b.take(name, 'sampling/createMessage', sized(share)));
    b.take('d', 'sampling/createMessage', sized(share - 10));
    assert.equal(share * 4, MAX_CLIENT_REQUEST_CHARS);
    assert.throws(() => b.take('e', 'sampling/createMessage', sized(11)), hit('per_session', 'e', 'limitChars', MAX_CLIENT_REQUEST_CHARS));
    b.take('e', 'sampling/createMessage', sized(10));
    held[0]!();
    b.take('e', 'sampling/createMessage', sized(1000));
  });

  it("lets one request larger than a share wait alone; held, it counts as its backend's share, not the session's room", () => {
    const b = new ClientRequestBudget();
    const big = b.take('x', 'sampling/createMessage', sized(MAX_CLIENT_REQUEST_CHARS + 1));
    assert.throws(() => b.take('x', 'roots/list', { a: 1 }), hit('per_backend', 'x', 'limitChars', MAX_CLIENT_REQUEST_CHARS_PER_BACKEND));
    // The others keep the rest of the session's room: three shares.
    for (const name of ['y', 'z', 'w']) b.take(name, 'sampling/createMessage', sized(MAX_CLIENT_REQUEST_CHARS_PER_BACKEND));
    assert.throws(() => b.take('v', 'roots/list', { a: 1 }), hit('per_session', 'v', 'limitChars', MAX_CLIENT_REQUEST_CHARS));
    big();
    b.take('x', 'roots/list', { a: 1 });
    // With anything waiting, a request past a share is refused, even from a backend with nothing waiting.
    const other = new ClientRequestBudget();
    other.take('y', 'roots/list', undefined);
    assert.throws(
      () => other.take('v', 'sampling/createMessage', sized(MAX_CLIENT_REQUEST_CHARS_PER_BACKEND + 1)),
      hit('per_backend', 'v', 'limitChars', MAX_CLIENT_REQUEST_CHARS_PER_BACKEND),
    );
  });

  it('refuses params too deep to stringify', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 1_000_000; i++) deep = [deep];
    assert.throws(() => new ClientRequestBudget().take('x', 'sampling/createMessage', { deep }), overloaded);
  });
});
