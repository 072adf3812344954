import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { readLines } from '../../../../src/transport/inbound/stdio-lines.js';

/** Feeds the chunks, then ends the input; what the handlers saw, in order. */
async function feed(max: number, chunks: Array<string | Buffer>): Promise<string[]> {
  const input = new PassThrough();
  const seen: string[] = [];
  const done = new Promise<void>((resolve) =>
    readLines(input, max, {
      line: (b) => seen.push(`line:${b.toString('utf8')}`),
      tooLong: () => seen.push('tooLong'),
      end: () => {
        seen.push('end');
        resolve();
      },
    }),
  );
  for (const c of chunks) input.write(c);
  input.end();
  await done;
  return seen;
}

describe('readLines', () => {
  it('lines in one chunk, across chunks, and a last one without a line break', async () => {
    assert.deepEqual(await feed(100, ['a\nb', 'c\n\nd']), ['line:a', 'line:bc', 'line:', 'line:d', 'end']);
  });

  it('a UTF-8 character split across chunks is joined before it is decoded', async () => {
    const e = Buffer.from('é\n');
    assert.deepEqual(await feed(100, [e.subarray(0, 1), e.subarray(1)]), ['line:é', 'end']);
  });

  it('a line of exactly the bound passes; one byte more is dropped with one tooLong, and the next line is read', async () => {
    assert.deepEqual(await feed(4, ['abcd\n']), ['line:abcd', 'end']);
    assert.deepEqual(await feed(4, ['abcde\nok\n']), ['tooLong', 'line:ok', 'end']);
    // Arriving in pieces: one tooLong when the bound is passed, the rest skipped to the line break.
    assert.deepEqual(await feed(4, ['ab', 'cd', 'ef', 'gh', 'ij\nok\n']), ['tooLong', 'line:ok', 'end']);
    assert.deepEqual(await feed(4, ['abcdefgh', 'ijkl', '\nok']), ['tooLong', 'line:ok', 'end']);
  });

  it('an input that ends in the middle of a dropped line gives no line for it', async () => {
    assert.deepEqual(await feed(4, ['abcdefgh']), ['tooLong', 'end']);
  });
});
