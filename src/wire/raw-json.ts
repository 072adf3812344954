/**
 * Results relayed as bytes. A backend's answer `{"jsonrpc":"2.0","id":…,"result":{…}}`
 * reaches the client as a new envelope around the very bytes of its `result`: no UTF-8
 * decoding, JSON.parse, JSON.stringify or re-encoding of a result the gateway does not
 * look into (a tool's 1 MiB of text cost ~17 ms that way; the scan is cheaper than parse
 * and stringify at every size, an 80-byte echo result included). Only the id changes: the
 * client's goes in, the backend's is dropped with the rest of its envelope.
 *
 * The bytes are backend input, so they are checked before they are trusted: the whole
 * message must be valid JSON (RFC 8259 grammar, valid UTF-8 per RFC 3629) and exactly
 * the three members `jsonrpc` ("2.0"), `id` (a string or a number) and `result` (an
 * object), each once and spelled without escapes. Anything else (an error response, a
 * duplicate or unknown member, escapes in a member name, trailing text, a BOM) is left to
 * the ordinary parse path, which then behaves as it always did. A result keeps no
 * CR or LF (JSON whitespace, turned into spaces): it may be written as one stdio line or
 * one SSE `data:` field, and a raw line break there would let a backend end the message
 * early and forge the next one.
 */
import { isUtf8 } from 'node:buffer';
import type { JsonRpcResultResponse, RequestId } from './jsonrpc.js';
import { freeArrayBuffer } from '../util/free-buffer.js';

/** One JSON object, as valid UTF-8 bytes without CR or LF: a backend's result relayed as it came. */
export class RawJson {
  private parsed: Record<string, unknown> | undefined;
  private released = false;
  private view: Buffer | undefined;

  constructor(
    /** The whole message the result is part of: bytes [start, end) are the result. */
    private readonly message: Buffer,
    private readonly start: number,
    private readonly end: number,
    /** The object may have a top-level `isError` that is not `false` (a tool error): observers then parse it. */
    readonly maybeError: boolean,
    /** The memory under `message` was allocated for this message alone (no other message or read shares it): release() may free it. */
    private readonly owned = false,
  ) {}

  /** The result's length in bytes. */
  get length(): number {
    return this.end - this.start;
  }

  /** release() would free memory (the bytes own theirs): worth waiting for the write to finish. */
  get freeable(): boolean {
    return this.owned && !this.released;
  }

  /** The result's bytes (a view of the message, made when first asked for: a small result is only ever read as text). */
  get bytes(): Buffer {
    if (this.released) throw new Error('RawJson read after release()');
    return (this.view ??= this.message.subarray(this.start, this.end));
  }

  /**
   * Frees the memory of the bytes now, once nothing reads them any more (the answer is on
   * the wire), instead of at a later GC (util/free-buffer.ts says why). Only memory the
   * message owns is freed: bytes that share a read buffer are left to the GC.
   */
  release(): void {
    if (this.released || !this.owned) return;
    this.released = true;
    freeArrayBuffer(this.message.buffer as ArrayBuffer);
  }

  /** The parsed object, for code that must look inside (parsed once). */
  value(): Record<string, unknown> {
    return (this.parsed ??= JSON.parse(this.text()) as Record<string, unknown>);
  }

  /** The JSON text. */
  text(): string {
    if (this.released) throw new Error('RawJson read after release()');
    return this.message.toString('utf8', this.start, this.end);
  }

  /** JSON.stringify of a message holding this result still writes the right JSON (the slow way). */
  toJSON(): Record<string, unknown> {
    return this.value();
  }
}

/** A result as an object: RawJson parsed, anything else as it is. */
export function plainResult(r: Record<string, unknown> | RawJson): Record<string, unknown> {
  return r instanceof RawJson ? r.value() : r;
}

export interface RawResultResponse {
  id: RequestId;
  result: RawJson;
}

/** The message a transport hands on for a scanned answer: the backend's id (the connection matches it), the result as bytes. */
export function rawMessage(r: RawResultResponse): JsonRpcResultResponse {
  return { jsonrpc: '2.0', id: r.id, result: r.result };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LF = 0x0a;
const CR = 0x0d;

const KEY_JSONRPC = Buffer.from('"jsonrpc"');
const KEY_ID = Buffer.from('"id"');
const KEY_RESULT = Buffer.from('"result"');
const KEY_IS_ERROR = Buffer.from('"isError"');
const VERSION = Buffer.from('"2.0"');
const FALSE = Buffer.from('false');

/**
 * Deeper results are left to the parse path: V8's JSON.parse and JSON.stringify recurse
 * (a few thousand levels overflow the stack), so the gateway must not hand a client what
 * it could not have parsed itself. MCP results nest a few levels.
 */
const MAX_DEPTH = 512;
const OPEN = new Uint8Array(MAX_DEPTH);

/** Scanner state of one message (module-level: the scan is synchronous). */
let sawLineBreak = false;
let errorKey = false;

/**
 * The id and the raw result of a result response, or undefined when `b` is anything else
 * or not valid JSON (the caller then parses it as usual). May overwrite CR and LF bytes
 * of `b` (whitespace) with spaces. `owned`: the caller allocated `b` for this message
 * alone, so RawJson.release() may free it.
 */
export function scanResultResponse(b: Buffer, owned = false): RawResultResponse | undefined {
  if (!isUtf8(b)) return undefined;
  sawLineBreak = false;
  quoteAt = -1;
  backslashAt = -1;
  controlAt = -1;
  // Skipping strings in jumps pays for the native calls and the typed array it needs only on longer messages.
  if (b.length >= WORDS_MIN_BYTES) viewWords(b);
  try {
    // Owned: allocated for this message by the caller, and the whole of its ArrayBuffer (never a slice of a shared pool).
    return scan(b, owned && b.byteOffset === 0 && b.buffer.byteLength === b.length);
  } finally {
    words = undefined; // holds the message's memory
  }
}

function scan(b: Buffer, owned: boolean): RawResultResponse | undefined {
  const n = b.length;
  let i = ws(b, 0, n);
  if (b[i] !== LBRACE) return undefined;
  i = ws(b, i + 1, n);
  let seen = 0;
  let version = -1;
  let idStart = -1;
  let idEnd = -1;
  let resultStart = -1;
  let resultEnd = -1;
  let maybeError = false;
  for (;;) {
    if (b[i] !== QUOTE) return undefined;
    const keyEnd = skipString(b, i, n);
    if (keyEnd < 0) return undefined;
    const key = same(b, i, keyEnd, KEY_JSONRPC) ? 1 : same(b, i, keyEnd, KEY_ID) ? 2 : same(b, i, keyEnd, KEY_RESULT) ? 4 : 0;
    // Unknown, escaped or repeated names: JSON.parse's reading (the last one wins) is the parse path's business.
    if (key === 0 || (seen & key) !== 0) return undefined;
    seen |= key;
    i = ws(b, keyEnd, n);
    if (b[i] !== COLON) return undefined;
    i = ws(b, i + 1, n);
    const start = i;
    sawLineBreak = false;
    errorKey = false;
    const end = skipValue(b, i, n);
    if (end < 0) return undefined;
    if (key === 1) version = same(b, start, end, VERSION) ? 0 : -1;
    else if (key === 2) {
      idStart = start;
      idEnd = end;
    } else {
      resultStart = start;
      resultEnd = end;
      maybeError = errorKey;
      // Line breaks inside the result's span: only as whitespace (raw ones in strings are invalid), so spaces mean the same.
      if (sawLineBreak) blankLineBreaks(b, start, end);
    }
    i = ws(b, end, n);
    if (b[i] === COMMA) {
      i = ws(b, i + 1, n);
      continue;
    }
    if (b[i] !== RBRACE) return undefined;
    i = ws(b, i + 1, n);
    break;
  }
  if (i !== n || seen !== 7 || version !== 0 || b[resultStart] !== LBRACE) return undefined;
  const c = b[idStart];
  if (c !== QUOTE && c !== 0x2d && (c < 0x30 || c > 0x39)) return undefined; // a string or a number, as JSON-RPC 2.0 §4 allows (null is no request's id)
  return { id: idOf(b, idStart, idEnd), result: new RawJson(b, resultStart, resultEnd, maybeError, owned) };
}

/** A scanned (valid) id: a plain integer or a string without escapes read directly, anything else by JSON.parse. */
function idOf(b: Buffer, start: number, end: number): RequestId {
  if (b[start] === QUOTE) {
    if (!hasEscape(b, start, end)) return b.toString('utf8', start + 1, end - 1);
  } else if (end - start <= 15) {
    let n = 0;
    let k = b[start] === 0x2d ? start + 1 : start;
    for (; k < end && digit(b[k]); k++) n = n * 10 + (b[k] - 0x30);
    // Up to 15 digits a double holds exactly; -0 is JSON.parse's business.
    if (k === end && k > start + (b[start] === 0x2d ? 1 : 0) && !(b[start] === 0x2d && n === 0)) return b[start] === 0x2d ? -n : n;
  }
  return JSON.parse(b.toString('utf8', start, end)) as RequestId;
}

/** Index after JSON whitespace (RFC 8259 §2) from `i`. */
function ws(b: Buffer, i: number, n: number): number {
  for (; i < n; i++) {
    const c = b[i];
    if (c === 0x20 || c === 0x09) continue;
    if (c === LF || c === CR) {
      sawLineBreak = true;
      continue;
    }
    break;
  }
  return i;
}

/**
 * Strings in longer messages are skipped a 32-bit word at a time (SWAR, in `words`: the
 * message from its first 4-byte-aligned byte, `wordBase`) to the first word that may hold
 * a quote, a backslash or a control character; the byte loop takes it from there. A run
 * of more than JUMP_WORDS plain words is a long string: the scan then jumps to the next
 * quote or backslash (Buffer.indexOf, native memchr) or control character (found a word
 * at a time with one test instead of three), whichever comes first. JSON forbids raw
 * U+0000–U+001F in strings (RFC 8259 §7), hence the third search. Each "next" position is
 * remembered (the scan only moves forward), so every byte is searched once at most: linear
 * whatever the input.
 */
let words: Int32Array | undefined;
let wordBase = 0;
/** The next quote, backslash and control byte at or after the scan's position (-1: not searched yet; n: none). */
let quoteAt = -1;
let backslashAt = -1;
let controlAt = -1;
/** Messages shorter than this are scanned a byte at a time. */
const WORDS_MIN_BYTES = 256;
/** Plain words before a jump: text with an escape every line or so never pays for the native calls. */
const JUMP_WORDS = 16;

function viewWords(b: Buffer): void {
  const first = (4 - (b.byteOffset & 3)) & 3;
  const count = (b.length - first) >> 2;
  words = count > 0 ? new Int32Array(b.buffer, b.byteOffset + first, count) : undefined;
  wordBase = first;
}

/** Index after the string starting at `i` (a quote), or -1 when it is not a valid JSON string (RFC 8259 §7). */
function skipString(b: Buffer, i: number, n: number): number {
  for (let j = i + 1; j < n; j++) {
    if (words !== undefined && ((j - wordBase) & 3) === 0 && j >= wordBase) {
      let w = (j - wordBase) >> 2;
      const wn = words.length;
      const stop = Math.min(w + JUMP_WORDS, wn);
      for (; w < stop; w++) {
        const x = words[w];
        // Some byte < 0x20, == '"' or == '\\' (Bit Twiddling Hacks: hasless, haszero); false positives only send it to the byte loop.
        const q = x ^ 0x22222222;
        const s = x ^ 0x5c5c5c5c;
        if ((((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) & 0x80808080) break;
      }
      j = wordBase + w * 4;
      // A long run of plain text: the rest of the string in jumps. (A call only on the way out:
      // one inside this loop costs the byte loop its registers, measurably on text with many escapes.)
      if (w === stop && w < wn) return skipLongString(b, j, n);
      if (j >= n) break;
    }
    const c = b[j];
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) {
      // Not escapeEnd(): a call inside this loop costs it its registers.
      const e = b[++j];
      if (e === 0x75) {
        // \uXXXX
        if (j + 4 >= n || !hex(b[j + 1]) || !hex(b[j + 2]) || !hex(b[j + 3]) || !hex(b[j + 4])) return -1;
        j += 4;
      } else if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return -1;
    } else if (c < 0x20) return -1; // control characters must be escaped
  }
  return -1;
}

/** The rest of a long string from `j`: from each quote, backslash or control byte to the next. */
function skipLongString(b: Buffer, j: number, n: number): number {
  for (;;) {
    j = nextSpecial(b, j, n);
    if (j >= n) return -1;
    const c = b[j];
    if (c === QUOTE) return j + 1;
    if (c !== BACKSLASH) return -1; // a control character
    j = escapeEnd(b, j, n);
    if (j < 0) return -1;
    j++;
  }
}

/** The escape at `j` (a backslash): the index of its last byte, or -1 when it is not a JSON escape. */
function escapeEnd(b: Buffer, j: number, n: number): number {
  const e = b[++j];
  if (e === 0x75) {
    // \uXXXX
    if (j + 4 >= n || !hex(b[j + 1]) || !hex(b[j + 2]) || !hex(b[j + 3]) || !hex(b[j + 4])) return -1;
    return j + 4;
  }
  return e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74 ? j : -1;
}

/** Index of the next quote, backslash or control byte at or after `j` (n when none), from the remembered positions. */
function nextSpecial(b: Buffer, j: number, n: number): number {
  if (quoteAt < j) {
    quoteAt = b.indexOf(QUOTE, j);
    if (quoteAt < 0) quoteAt = n;
  }
  if (backslashAt < j) {
    backslashAt = b.indexOf(BACKSLASH, j);
    if (backslashAt < 0) backslashAt = n;
  }
  if (controlAt < j) controlAt = nextControl(b, j, n);
  return quoteAt < backslashAt ? Math.min(quoteAt, controlAt) : Math.min(backslashAt, controlAt);
}

/** Index of the first byte < 0x20 at or after `j` (n when none). Needs `words`. */
function nextControl(b: Buffer, j: number, n: number): number {
  const ws32 = words as Int32Array;
  const wn = ws32.length;
  // Up to the next word boundary a byte at a time, then words, then the bytes after the last word.
  const aligned = j < wordBase ? wordBase : j + ((4 - ((j - wordBase) & 3)) & 3);
  let k = controlIn(b, j, Math.min(aligned, n));
  for (let w = (aligned - wordBase) >> 2; k < 0 && w < wn; w++) {
    w = controlWord(ws32, w, wn);
    if (w < wn) k = controlIn(b, wordBase + w * 4, wordBase + w * 4 + 4);
  }
  if (k < 0) k = controlIn(b, Math.max(aligned, wordBase + wn * 4), n);
  return k < 0 ? n : k;
}

/**
 * Index of the first word from `w` with a byte < 0x20 (Bit Twiddling Hacks: hasless), or
 * wn. Its own function, as controlIn: a long loop gets compiled while it runs (OSR), and
 * code after it that had not run yet would lack type feedback and deoptimize every scan.
 */
function controlWord(ws32: Int32Array, w: number, wn: number): number {
  for (; w < wn; w++) {
    const x = ws32[w];
    if (((x - 0x20202020) & ~x & 0x80808080) !== 0) return w;
  }
  return wn;
}

/** Index of the first byte < 0x20 in [from, to), or -1. */
function controlIn(b: Buffer, from: number, to: number): number {
  for (let k = from; k < to; k++) if (b[k] < 0x20) return k;
  return -1;
}

const hex = (c: number) => (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
const digit = (c: number) => c >= 0x30 && c <= 0x39;

/** Index after the number starting at `i` (RFC 8259 §6), or -1. */
function skipNumber(b: Buffer, i: number, n: number): number {
  if (b[i] === 0x2d) i++;
  if (b[i] === 0x30) i++;
  else if (b[i] >= 0x31 && b[i] <= 0x39) while (i < n && digit(b[i])) i++;
  else return -1;
  if (b[i] === 0x2e) {
    if (!digit(b[++i])) return -1;
    while (i < n && digit(b[i])) i++;
  }
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === 0x2b || b[i] === 0x2d) i++;
    if (!digit(b[i])) return -1;
    while (i < n && digit(b[i])) i++;
  }
  return i;
}

function literal(b: Buffer, i: number, n: number, word: string): number {
  if (i + word.length > n) return -1;
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

/**
 * Index after the JSON value starting at `i`, or -1 when it is not valid JSON or nests
 * deeper than MAX_DEPTH. Iterative
 * (a stack of open containers, not recursion): linear in the input whatever its nesting.
 * Sets `errorKey` when an object at the top of this value has a member `isError` whose
 * value is not `false`, or a member name with escapes (which might spell it).
 */
function skipValue(b: Buffer, i: number, n: number): number {
  // Open containers, innermost last (OPEN[0..depth)): 1 for an object. One stack for every scan: it is synchronous.
  let depth = 0;
  for (;;) {
    // A value at i.
    const c = b[i];
    let end: number;
    if (c === LBRACE || c === LBRACKET) {
      const close = c === LBRACE ? RBRACE : RBRACKET;
      i = ws(b, i + 1, n);
      if (b[i] === close) end = i + 1;
      else {
        if (depth >= MAX_DEPTH) return -1;
        OPEN[depth++] = c === LBRACE ? 1 : 0;
        if (c === LBRACE) {
          i = member(b, i, n, depth);
          if (i < 0) return -1;
        }
        continue;
      }
    } else if (c === QUOTE) end = skipString(b, i, n);
    else if (c === 0x74) end = literal(b, i, n, 'true');
    else if (c === 0x66) end = literal(b, i, n, 'false');
    else if (c === 0x6e) end = literal(b, i, n, 'null');
    else end = skipNumber(b, i, n);
    if (end < 0) return -1;
    // After a value: close containers, or go on to the next element or member.
    for (;;) {
      if (depth === 0) return end;
      i = ws(b, end, n);
      const inObject = OPEN[depth - 1] === 1;
      if (b[i] === COMMA) {
        i = ws(b, i + 1, n);
        if (inObject) {
          i = member(b, i, n, depth);
          if (i < 0) return -1;
        }
        break;
      }
      if (b[i] !== (inObject ? RBRACE : RBRACKET)) return -1;
      depth--;
      end = i + 1;
    }
  }
}

/** A member's name and colon at `i`; the index of its value, or -1. At `depth` 1, notes a name that may be `isError`. */
function member(b: Buffer, i: number, n: number, depth: number): number {
  if (b[i] !== QUOTE) return -1;
  const end = skipString(b, i, n);
  if (end < 0) return -1;
  let isErrorName = false;
  if (depth === 1) {
    isErrorName = same(b, i, end, KEY_IS_ERROR);
    if (!isErrorName && hasEscape(b, i, end)) errorKey = true;
  }
  i = ws(b, end, n);
  if (b[i] !== COLON) return -1;
  i = ws(b, i + 1, n);
  if (isErrorName && !(i + FALSE.length <= n && same(b, i, i + FALSE.length, FALSE))) errorKey = true;
  return i;
}

function hasEscape(b: Buffer, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (b[k] === BACKSLASH) return true;
  return false;
}

function same(b: Buffer, start: number, end: number, word: Buffer): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (b[start + k] !== word[k]) return false;
  return true;
}

function blankLineBreaks(b: Buffer, start: number, end: number): void {
  for (let i = start; i < end; i++) if (b[i] === LF || b[i] === CR) b[i] = 0x20;
}

/** `result` of a message when it is RawJson (a result relayed as bytes), else undefined. */
export function rawResultOf(m: object): RawJson | undefined {
  const r = (m as { result?: unknown }).result;
  return r instanceof RawJson ? r : undefined;
}

const head = (id: unknown) => `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":`;

/** A message (or a batch's array) already written as its JSON text, written out as it is. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** The JSON text of one message (or batch): a RawJson result is spliced in as it is, under the message's own id. */
export function messageText(m: object): string {
  if (m instanceof JsonText) return m.text;
  const raw = rawResultOf(m);
  return raw ? `${head((m as { id?: unknown }).id)}${raw.text()}}` : JSON.stringify(m);
}

/** A RawJson result up to this size is written as text, in one piece with the HTTP head; a larger one as its bytes, uncopied. */
const TEXT_MAX_BYTES = 1024;

/**
 * The JSON of one message (or batch) as it is written to a socket or pipe: a string, or
 * for a large RawJson result the envelope around the result's own bytes (no copy of them).
 */
export function messageBody(m: object): string | Buffer[] {
  if (m instanceof JsonText) return m.text;
  const raw = rawResultOf(m);
  if (!raw) return JSON.stringify(m);
  const id = (m as { id?: unknown }).id;
  return raw.length <= TEXT_MAX_BYTES ? `${head(id)}${raw.text()}}` : [Buffer.from(head(id)), raw.bytes, CLOSE];
}

const CLOSE = Buffer.from('}');
