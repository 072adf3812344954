/** The id of a stdio line skipped past 64 MiB, read from its first or last bytes (stdio-transport.ts envelopeId). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { envelopeId } from '../../../../src/transport/outbound/stdio-transport.js';

it('reads the id where SDK servers write it: first (Python) or last (TypeScript), with JSON whitespace', () => {
  assert.equal(envelopeId('{"jsonrpc":"2.0","id":17,"result":{"content":[{"type":"text","text":"xxxx', 'xxxx"}]}}'), 17);
  assert.equal(envelopeId('{"id":3,"jsonrpc":"2.0","result":{"x', 'x"}}'), 3);
  assert.equal(envelopeId('{"result":{"content":[{"type":"text","text":"xx', 'xx"}]},"jsonrpc":"2.0","id":42}'), 42);
  assert.equal(envelopeId('{"result":{"a":"xx', 'xx"},"id":42,"jsonrpc":"2.0"}\r'), 42);
  assert.equal(envelopeId(' { "jsonrpc" : "2.0" , "id" : 5 , "result" : {', ''), 5);
});

it('a request of the backend’s own (its ids are not the gateway’s), in either order, is no response', () => {
  assert.equal(envelopeId('{"jsonrpc":"2.0","id":4,"method":"sampling/createMessage","params":{"x":"xx', 'xx"}}'), undefined);
  assert.equal(envelopeId('{"method":"sampling/createMessage","params":{"x":"xx', 'xx"},"jsonrpc":"2.0","id":4}'), undefined);
});

it('an id nested in the result, a string id or none is no id', () => {
  assert.equal(envelopeId('{"result":{"id":3,"text":"xx', 'xx","id":7}}'), undefined);
  assert.equal(envelopeId('{"jsonrpc":"2.0","id":"a","result":{', '}}'), undefined);
  assert.equal(envelopeId('xxxxxxxx', 'xxxxxxxx'), undefined);
});
