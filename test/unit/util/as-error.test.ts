import { strict as assert } from 'node:assert';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { asError, failingWithErrors } from '../../../src/util/as-error.js';

describe('asError', () => {
  it('keeps an Error as it is', () => {
    const e = new TypeError('x');
    assert.equal(asError(e), e);
  });

  it('a string becomes the message; null, undefined, numbers and symbols are named', () => {
    assert.equal(asError('disk full').message, 'disk full');
    assert.equal(asError(null).message, 'threw null, not an Error');
    assert.equal(asError(undefined).message, 'threw undefined, not an Error');
    assert.equal(asError(42).message, 'threw number 42, not an Error');
    assert.equal(asError(Symbol('s')).message, 'threw a symbol, not an Error');
  });

  it("never runs the value's own methods: toString, toJSON, getters, a Proxy's traps", () => {
    const hostile = {
      toString: 1,
      toJSON: 1,
      get message() {
        throw new Error('getter ran');
      },
    };
    assert.equal(asError(hostile).message, 'threw an object, not an Error');
    const trap = new Proxy(
      {},
      {
        getOwnPropertyDescriptor() {
          throw new Error('trap ran');
        },
      },
    );
    assert.equal(asError(trap).message, 'threw an object, not an Error');
    assert.equal(asError([1]).message, 'threw an array, not an Error');
  });

  it("an object's own text message is kept: an Error of another realm, {message, code}", () => {
    assert.equal(asError(runInNewContext('new Error("from a vm")')).message, 'from a vm');
    assert.equal(asError({ message: 'plain', code: 'E' }).message, 'plain');
  });
});

describe('failingWithErrors', () => {
  it('turns a synchronous throw and a rejection into Errors, and passes values through', async () => {
    assert.equal(await failingWithErrors(() => 7), 7);
    assert.equal(await failingWithErrors(async () => 8), 8);
    await assert.rejects(
      failingWithErrors(() => {
        throw undefined;
      }),
      { message: 'threw undefined, not an Error' },
    );
    await assert.rejects(
      failingWithErrors(() => Promise.reject(null)),
      { message: 'threw null, not an Error' },
    );
  });
});
