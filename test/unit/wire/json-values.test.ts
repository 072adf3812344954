/** Splitting a body into its top-level JSON values (backends that write NDJSON in an application/json answer). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseJsonValues } from '../../../src/wire/json-values.js';

it('parses one JSON value as it is, pretty-printed or not', () => {
  assert.deepEqual(parseJsonValues('{"a":1}'), [{ a: 1 }]);
  assert.deepEqual(parseJsonValues('{\n  "a": [1,\n 2]\n}\n'), [{ a: [1, 2] }]);
  assert.deepEqual(parseJsonValues('[{"id":1},{"id":2}]'), [[{ id: 1 }, { id: 2 }]]);
});

it('splits newline-delimited and concatenated objects and arrays, strings holding braces, quotes and newlines included', () => {
  const a = { jsonrpc: '2.0', method: 'n', params: { s: 'x}{]["\\\n\u2028' } };
  const b = { jsonrpc: '2.0', id: 1, result: {} };
  assert.deepEqual(parseJsonValues(`${JSON.stringify(a)}\n${JSON.stringify(b)}\n`), [a, b]);
  assert.deepEqual(parseJsonValues(`${JSON.stringify(a)}\r\n\r\n${JSON.stringify(b)}`), [a, b]);
  assert.deepEqual(parseJsonValues(`${JSON.stringify(a)}${JSON.stringify([b])}`), [a, [b]]);
});

it('refuses what is not a sequence of objects and arrays with the first parse error', () => {
  for (const bad of ['{"a":1} 2', '{"a":1}\nnot json', '{"a":1}\n{"b":', '"s"\n"t"', '{"a":1}}{', '{]\n{}', '']) {
    assert.throws(() => parseJsonValues(bad), SyntaxError, bad);
  }
});

it('stays linear on hostile bodies: deep nesting, many values, an unterminated string', () => {
  const started = performance.now();
  assert.throws(() => parseJsonValues('['.repeat(200_000)), SyntaxError);
  assert.throws(() => parseJsonValues(`{}\n"${'\\"'.repeat(1_000_000)}`), SyntaxError);
  assert.equal(parseJsonValues('{}\n'.repeat(50_000)).length, 50_000);
  assert.ok(performance.now() - started < 3000, 'took too long');
});
