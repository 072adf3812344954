/**
 * wire/declarations.ts: the measure of what a client declares about itself (review 12): the
 * length JSON.stringify gives, found without building the text, stopping at the bound, and
 * never throwing on input nested deeper than the stack.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonLengthWithin, MAX_CLIENT_DECLARATION_CHARS, MAX_CLIENT_DECLARATION_DEPTH, oversizedDeclaration } from '../../../src/wire/declarations.js';

describe('wire/declarations', () => {
  it("measures a value as JSON.stringify's length", () => {
    const values: unknown[] = [
      {},
      [],
      'x',
      0,
      -1.5e-7,
      null,
      true,
      { a: 1, b: [true, null, 'q"\n\u0001é'], 'k"y': { z: [] } },
      { name: 'c', version: '1', title: 'C', icons: [{ src: 'https://e.com/i.png', sizes: ['48x48'] }], websiteUrl: 'https://e.com' },
      [[[{}, {}]]],
    ];
    for (const v of values) assert.equal(jsonLengthWithin(v, Number.POSITIVE_INFINITY), JSON.stringify(v).length, JSON.stringify(v));
  });

  it('refuses past the length or the depth, without throwing on input deeper than the stack', () => {
    assert.equal(jsonLengthWithin('x'.repeat(10), 12), 12);
    assert.equal(jsonLengthWithin('x'.repeat(11), 12), undefined);
    let deep: unknown = [];
    for (let i = 0; i < 1_000_000; i++) deep = [deep];
    assert.throws(() => JSON.stringify(deep), RangeError);
    assert.equal(jsonLengthWithin(deep, Number.POSITIVE_INFINITY), undefined);
    // MAX_CLIENT_DECLARATION_DEPTH objects, one in another: at the bound.
    let nested: unknown = {};
    for (let i = 1; i < MAX_CLIENT_DECLARATION_DEPTH; i++) nested = { a: nested };
    assert.ok(jsonLengthWithin(nested, MAX_CLIENT_DECLARATION_CHARS));
    assert.equal(jsonLengthWithin({ a: nested }, MAX_CLIENT_DECLARATION_CHARS), undefined);
  });

  it('stops at the bound: a 4 MiB array of objects costs no more than the bound', () => {
    const pad = JSON.parse(`[${'{},'.repeat(1_398_000)}{}]`) as unknown[];
    const t = performance.now();
    assert.equal(jsonLengthWithin({ pad }, MAX_CLIENT_DECLARATION_CHARS), undefined);
    assert.ok(performance.now() - t < 50, `took ${performance.now() - t} ms`);
  });

  it('names the part that takes capabilities and clientInfo together past the bound', () => {
    const half = 'a'.repeat(MAX_CLIENT_DECLARATION_CHARS / 2);
    assert.equal(oversizedDeclaration({ x: half }, { name: 'c', version: '1' }), undefined);
    assert.equal(oversizedDeclaration({ x: half }, { name: half }), 'clientInfo');
    assert.equal(oversizedDeclaration({ x: half + half }, {}), 'capabilities');
  });
});
