import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchAnswers, MAX_BATCH_HELD_CHARS } from '../../../../src/transport/inbound/batch-answers.js';
import type { JsonRpcMessage } from '../../../../src/wire/jsonrpc.js';
import { messageText, type JsonText } from '../../../../src/wire/raw-json.js';

const answer = (id: number, text = 'ok') => ({ jsonrpc: '2.0', id, result: { text } }) as unknown as JsonRpcMessage;

function collect() {
  const out: string[] = [];
  const batch = new BatchAnswers((m: JsonRpcMessage | JsonText) => out.push(messageText(m)), messageText);
  return { out, batch };
}

describe('transport/inbound/batch-answers', () => {
  it('small answers are written once, as one array in the order they came, when the batch ends', () => {
    const { out, batch } = collect();
    batch.add(answer(2));
    batch.add(answer(1));
    assert.equal(out.length, 0, 'nothing is written before the end');
    batch.end();
    assert.deepEqual(
      out.map((t) => JSON.parse(t)),
      [[JSON.parse(messageText(answer(2))), JSON.parse(messageText(answer(1)))]],
    );
  });

  it('past the bound, the answers held go out alone, and every later one as it comes; nothing at the end', () => {
    const { out, batch } = collect();
    const half = 'x'.repeat(MAX_BATCH_HELD_CHARS / 2);
    batch.add(answer(1, half));
    assert.equal(out.length, 0);
    batch.add(answer(2, half));
    assert.deepEqual(
      out.map((t) => JSON.parse(t).id),
      [1, 2],
      'past the bound, the two held go out alone',
    );
    batch.add(answer(3));
    batch.end();
    assert.deepEqual(
      out.map((t) => JSON.parse(t).id),
      [1, 2, 3],
    );
  });

  it('a batch whose requests were all cancelled writes nothing', () => {
    const { out, batch } = collect();
    batch.end();
    assert.equal(out.length, 0);
  });

  it('the text of each answer is taken once, as it comes (held as text, not as the object)', () => {
    let taken = 0;
    const out: string[] = [];
    const batch = new BatchAnswers(
      (m) => out.push(messageText(m)),
      (m) => (taken++, messageText(m)),
    );
    const a = answer(1) as unknown as { result: { text: string } };
    batch.add(a as unknown as JsonRpcMessage);
    a.result.text = 'changed after it was answered';
    batch.end();
    assert.equal(taken, 1);
    assert.equal(JSON.parse(out[0])[0].result.text, 'ok');
  });
});
