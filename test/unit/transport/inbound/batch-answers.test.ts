import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchAnswers } from '../../../../src/transport/inbound/batch-answers.js';
import { BatchHold, MAX_BATCH_HELD_CHARS } from '../../../../src/transport/inbound/batch-hold.js';
import type { JsonRpcMessage } from '../../../../src/wire/jsonrpc.js';
import { messageText, type JsonText } from '../../../../src/wire/raw-json.js';

const answer = (id: number, text = 'ok') => ({ jsonrpc: '2.0', id, result: { text } }) as unknown as JsonRpcMessage;

function collect(hold = new BatchHold()) {
  const out: string[] = [];
  const batch = new BatchAnswers((m: JsonRpcMessage | JsonText) => out.push(messageText(m)), messageText, hold);
  return { out, batch, hold };
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
      new BatchHold(),
    );
    const a = answer(1) as unknown as { result: { text: string } };
    batch.add(a as unknown as JsonRpcMessage);
    a.result.text = 'changed after it was answered';
    batch.end();
    assert.equal(taken, 1);
    assert.equal(JSON.parse(out[0])[0].result.text, 'ok');
  });

  it('counts what every batch holds together: past the instance bound a batch sends alone what it holds, and each releases its count', () => {
    const hold = new BatchHold(1000);
    const a = collect(hold);
    const b = collect(hold);
    a.batch.add(answer(1, 'x'.repeat(600)));
    assert.equal(a.out.length, 0);
    assert.ok(hold.held > 600);
    b.batch.add(answer(2, 'y'.repeat(600)));
    assert.deepEqual(
      b.out.map((t) => JSON.parse(t).id),
      [2],
      'the batch that crossed the bound sends its answer alone',
    );
    assert.equal(a.out.length, 0, 'the other batch keeps its array');
    assert.ok(hold.held > 600 && hold.held < 1000, `b released its count: ${hold.held}`);
    a.batch.end();
    assert.equal(JSON.parse(a.out[0])[0].id, 1);
    b.batch.end();
    assert.equal(hold.held, 0, 'nothing counted once both ended');
  });
});
