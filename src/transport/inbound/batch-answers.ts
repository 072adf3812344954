/**
 * A 2025-03-26 batch's answers on a connection whose messages share one channel (legacy SSE,
 * stdio): held as their JSON texts, counted, and written as one array when the last is ready;
 * past MAX_BATCH_HELD_CHARS together, or once the batches of the instance hold their bound
 * (batch-hold.ts), each goes out alone as it is ready (those held first), under the channel's
 * own bounds on what the client has not read. Held whole as objects until the last one, a
 * batch's answers were in no bound (1,000 reads of a 1 MB file: ~850 MB).
 */
import type { JsonRpcMessage } from '../../wire/jsonrpc.js';
import { JsonText } from '../../wire/raw-json.js';
import { type BatchHold, MAX_BATCH_HELD_CHARS } from './batch-hold.js';

export class BatchAnswers {
  private readonly texts: string[] = [];
  private held = 0;
  private alone = false;

  constructor(
    private readonly write: (msg: JsonRpcMessage | JsonText) => void,
    /** The JSON text of an answer (one that cannot be written: its error). */
    private readonly textOf: (msg: JsonRpcMessage) => string,
    /** What all batches of the instance hold. */
    private readonly hold: BatchHold,
  ) {}

  add(answer: JsonRpcMessage): void {
    if (this.alone) return this.write(answer);
    const text = this.textOf(answer);
    this.texts.push(text);
    this.held += text.length;
    const overAll = !this.hold.add(text.length);
    if (!overAll && this.held <= MAX_BATCH_HELD_CHARS) return;
    this.alone = true;
    this.hold.release(this.held);
    this.held = 0;
    for (const t of this.texts.splice(0)) this.write(new JsonText(t));
  }

  /** Every answer is in: the array, unless they went out alone. */
  end(): void {
    this.hold.release(this.held);
    this.held = 0;
    if (!this.alone && this.texts.length) this.write(new JsonText(`[${this.texts.join(',')}]`));
  }
}
