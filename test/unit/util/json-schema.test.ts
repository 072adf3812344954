/** Tool-argument validation (Ajv) sees only own properties: a client's arguments are input. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAjv } from '../../../src/util/json-schema.js';

describe('createAjv: own properties only', () => {
  const check = createAjv().compile({ type: 'object', properties: { constructor: { type: 'string' }, toString: { type: 'string' } }, required: ['toString'] });

  it('an absent "toString" is missing, not Object.prototype.toString', () => {
    assert.equal(check({}), false);
    assert.equal(check.errors?.[0]?.keyword, 'required');
  });

  it('an absent optional "constructor" is absent (no "must be string" from the prototype)', () => {
    assert.equal(check({ toString: 'x' }), true, JSON.stringify(check.errors));
  });
});
