/**
 * Frees the memory of an ArrayBuffer now, instead of at some later GC. Why it matters: V8
 * counts a buffer's memory as external until a GC frees it, and takes that count from the
 * old generation's headroom; a relay of large answers allocates little else, so no
 * scavenge comes to free the young buffers, and full mark-compacts follow every few 1 MiB
 * answers (see docs/architecture.md, "Results relayed as bytes").
 *
 * `ArrayBuffer.prototype.transfer(0)` (Node 22 and later) detaches the buffer and frees its
 * memory. Node 20 has no `transfer`: there the buffer is detached by transferring it in a
 * message to a MessagePort whose other end is closed, which drops the message (and the
 * memory with it); V8 stops counting it at once, as with `transfer`. Either way the buffer
 * is empty afterwards (byteLength 0): the caller frees only memory nothing else reads.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';

type Transferable = ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };

const HAS_TRANSFER = typeof (ArrayBuffer.prototype as Transferable).transfer === 'function';

/** The sending end of a channel whose receiving end is closed (made on first use; keeps no event loop alive). */
let sink: MessagePort | undefined;

function drop(): MessagePort {
  if (!sink) {
    const { port1, port2 } = new MessageChannel();
    port2.close();
    port1.unref();
    sink = port1;
  }
  return sink;
}

/** Reads smaller than this are not worth freeing one by one (and are never a Buffer pool slice: those are under 4 KiB). */
const MIN_FREE_BYTES = 16 * 1024;

/**
 * `b` spans the whole of its ArrayBuffer, of a size worth freeing: a read of a socket or a
 * pipe that held nothing else (never a slice of a larger read, nor of the Buffer pool). A
 * caller that alone holds such a read may free it once it has copied what it needs.
 */
export function wholeRead(b: Buffer): boolean {
  return b.length >= MIN_FREE_BYTES && b.byteOffset === 0 && b.buffer.byteLength === b.length;
}

/** Detaches `ab` and frees its memory. */
export function freeArrayBuffer(ab: ArrayBuffer): void {
  if (ab.byteLength === 0) return;
  try {
    if (HAS_TRANSFER) (ab as Transferable).transfer!(0);
    else drop().postMessage(null, [ab]);
  } catch {
    // A buffer that cannot be detached (marked untransferable, as Node's Buffer pool is): the GC frees it, as before.
  }
}
