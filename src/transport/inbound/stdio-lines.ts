/**
 * Newline framing of `mcpeg stdio`'s input, bounded: a line is held until its LF only up
 * to `maxBytes` (server.max_body_bytes, the bound of an HTTP POST's body). Past it the line
 * is dropped as it arrives, to its LF, and `onTooLong` says so once; readline held any
 * line whole, so a client writing without a line break grew the gateway's memory without
 * limit. A line without a final LF still counts when the input ends, as readline's did.
 */
import type { Readable } from 'node:stream';

const LF = 0x0a;

export interface LineHandlers {
  line(bytes: Buffer): void;
  /** A line over the bound was dropped (called when its first byte past the bound arrives). */
  tooLong(): void;
  end(): void;
}

export function readLines(input: Readable, maxBytes: number, h: LineHandlers): void {
  let partial: Buffer[] = [];
  let partialBytes = 0;
  let skipping = false;
  const flush = (last: Buffer) => {
    const line = partialBytes === 0 ? last : Buffer.concat([...partial, last], partialBytes + last.length);
    partial = [];
    partialBytes = 0;
    h.line(line);
  };
  input.on('data', (chunk: Buffer | string) => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let from = 0;
    let nl: number;
    while ((nl = buf.indexOf(LF, from)) >= 0) {
      if (skipping) skipping = false;
      else if (partialBytes + (nl - from) > maxBytes) {
        partial = [];
        partialBytes = 0;
        h.tooLong();
      } else flush(buf.subarray(from, nl));
      from = nl + 1;
    }
    if (from === buf.length || skipping) return;
    const rest = buf.subarray(from);
    if (partialBytes + rest.length > maxBytes) {
      partial = [];
      partialBytes = 0;
      skipping = true;
      h.tooLong();
      return;
    }
    // A copy when the rest is a small part of a large read: the read's memory is not held for it.
    partial.push(rest.length < buf.length / 2 ? Buffer.from(rest) : rest);
    partialBytes += rest.length;
  });
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    if (partialBytes > 0) flush(Buffer.alloc(0));
    h.end();
  };
  // A closed or failed input ends the session as its end does.
  input.once('end', end);
  input.once('close', end);
  input.once('error', end);
}
