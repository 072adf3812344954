/** ClientRequestBudget (src/protocol/client-requests.ts): how many backend requests to one client wait at once, and their size. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientRequestBudget, MAX_CLIENT_REQUEST_CHARS, MAX_CLIENT_REQUESTS } from '../../../src/protocol/client-requests.js';
import { GatewayError } from '../../../src/errors/catalog.js';

const overloaded = (err: unknown) => err instanceof GatewayError && err.code === 'MCPEG_ERR_OVERLOADED' && err.data?.bound === 'client_requests';

describe('ClientRequestBudget', () => {
  it(`refuses the ${MAX_CLIENT_REQUESTS + 1}th waiting request; a release makes room once, however often it is called`, () => {
    const b = new ClientRequestBudget();
    const releases = Array.from({ length: MAX_CLIENT_REQUESTS }, () => b.take('roots/list', undefined));
    assert.throws(() => b.take('roots/list', undefined), overloaded);
    releases[0]!();
    releases[0]!();
    b.take('roots/list', undefined);
    assert.throws(() => b.take('roots/list', undefined), overloaded, 'a second release of one request gives nothing back');
  });

  it('refuses params past the size bound together, but lets one larger request wait alone', () => {
    const b = new ClientRequestBudget();
    const half = { text: 'x'.repeat(MAX_CLIENT_REQUEST_CHARS / 2) };
    const first = b.take('sampling/createMessage', half);
    assert.throws(() => b.take('sampling/createMessage', half), overloaded);
    b.take('sampling/createMessage', { text: 'x' });
    first();
    const alone = new ClientRequestBudget();
    const big = alone.take('sampling/createMessage', { text: 'x'.repeat(MAX_CLIENT_REQUEST_CHARS + 1) });
    assert.throws(() => alone.take('roots/list', { a: 1 }), overloaded);
    big();
    alone.take('roots/list', { a: 1 });
  });

  it('refuses params too deep to stringify', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 1_000_000; i++) deep = [deep];
    assert.throws(() => new ClientRequestBudget().take('sampling/createMessage', { deep }), overloaded);
  });
});
