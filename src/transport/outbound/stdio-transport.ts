/**
 * A lean stdio client transport for backends (MCP transport spec, "stdio"): spawns the
 * program with an argument vector (never a shell), writes one JSON-RPC message per line
 * to its stdin and reads one per line from its stdout. One JSON.parse per message and no
 * schema validation: the gateway relays, the endpoints validate. stderr is handed to the
 * caller line by line (stderr-lines.ts), for the gateway's log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { MAX_BACKEND_MESSAGE_BYTES } from '../../wire/json-values.js';
import { rawMessage, scanResultResponse } from '../../wire/raw-json.js';
import { AnswerTooLargeError } from './http-transport.js';
import { freeArrayBuffer, wholeRead } from '../../util/free-buffer.js';
import { StderrLines, type LineSink } from './stderr-lines.js';

export interface StdioOptions {
  command: string;
  args: readonly string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  /** A line of its stderr (stderr-lines.ts: at most MAX_STDERR_LINE bytes, read during the call only). */
  onStderrLine: LineSink;
}

/** Grace periods when closing (the stdio spec: close stdin, then SIGTERM, then SIGKILL). */
const TERM_AFTER_MS = 2000;
const KILL_AFTER_MS = 2000;
const MAX_LINE = MAX_BACKEND_MESSAGE_BYTES;
/** A longer stderr line is handed on in pieces of this many bytes. */
export const MAX_STDERR_LINE = 64 * 1024;
const LF = 0x0a;
/** How much of a skipped line's start and end is kept to find its id. */
const ENVELOPE_BYTES = 256;
// The gateway's request ids are integers (upstream/connection.ts). SDK servers write a response's id
// first (Python: jsonrpc, id, result) or last (TypeScript: result, jsonrpc, id). Only a response's:
// a request of the backend's own (its ids are not the gateway's) must not fail a call. Over 256 bytes at most.
const ID_FIRST = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(\d{1,15})\s*,\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"(?:result|error)"/;
const RESPONSE_FIRST = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"(?:result|error)"\s*:/;
const ID_LAST = /[{,]\s*"id"\s*:\s*(\d{1,15})\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$/;

/** The id of the JSON-RPC response a skipped line held, from its start or end; undefined if neither says, or it is not a response. */
export function envelopeId(head: string, tail: string): number | undefined {
  const m = ID_FIRST.exec(head) ?? (RESPONSE_FIRST.test(head) ? ID_LAST.exec(tail) : null);
  return m ? Number(m[1]) : undefined;
}

/** The last ENVELOPE_BYTES of `kept` followed by `more`. */
function lastBytes(kept: Buffer, more: Buffer): Buffer {
  // Copies: a chunk read from the pipe is not held for its last bytes.
  if (more.length >= ENVELOPE_BYTES) return Buffer.from(more.subarray(more.length - ENVELOPE_BYTES));
  return Buffer.from(Buffer.concat([kept, more]).subarray(-ENVELOPE_BYTES));
}

export class StdioClient implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  /** Set by the connection that reads this transport: results may then arrive as RawJson (wire/raw-json.ts). */
  rawResults = false;
  private child: ChildProcess | undefined;
  /** The start of the line being read (no newline among them), and its length in bytes. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Reads among `partial` that are theirs alone and wholly inside the line: their memory is freed once the line is joined. */
  private spent: ArrayBuffer[] = [];
  /** A line past the cap being skipped to its end: its first and last bytes (the envelope's id is at one end). */
  private skipping: { head: Buffer; tail: Buffer } | undefined;
  /** Set by the connection: the answer to request `id` was too large to read, so the call fails now, not at its timeout. */
  onRequestFailed: ((id: number, err: Error) => void) | undefined = undefined;
  private closed = false;
  private closing = false;
  /** stdin is corked until the end of this turn of the event loop. */
  private corked = false;

  constructor(private readonly opts: StdioOptions) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.opts.command, [...this.opts.args], {
        env: this.opts.env,
        cwd: this.opts.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        shell: false,
        windowsHide: true,
      });
      this.child = child;
      child.once('error', (err) => {
        reject(err);
        this.onerror?.(err);
        this.finish();
      });
      child.once('spawn', () => resolve());
      child.once('close', (code, signal) => {
        // Say how the backend ended: the connection records it as the close reason.
        if (!this.closing) this.onerror?.(new Error(`backend process exited (${signal ? `signal ${signal}` : `code ${code}`})`));
        this.finish();
      });
      child.stdin!.on('error', (err) => this.onerror?.(err));
      // Bytes, framed on LF (0x0A never occurs inside a multi-byte UTF-8 sequence): a large result can then be relayed as it came.
      child.stdout!.on('data', (chunk: Buffer) => this.receive(chunk));
      const lines = new StderrLines(MAX_STDERR_LINE, this.opts.onStderrLine);
      child.stderr!.on('data', (chunk: Buffer) => lines.push(chunk));
      child.stderr!.once('end', () => lines.end());
    });
  }

  private receive(chunk: Buffer): void {
    let from = 0;
    let nl: number;
    if (this.skipping) {
      nl = chunk.indexOf(LF);
      this.skipping.tail = lastBytes(this.skipping.tail, chunk.subarray(0, nl < 0 ? chunk.length : nl));
      if (nl < 0) return;
      this.skipped(this.skipping);
      this.skipping = undefined;
      from = nl + 1;
    }
    // Only the new chunk is searched: a long line arriving in many chunks is scanned once.
    while ((nl = chunk.indexOf(LF, from)) >= 0) {
      let line = chunk.subarray(from, nl);
      // A line in one chunk shares the read's memory; joined chunks are memory of its own.
      const joined = this.partialBytes > 0;
      if (joined) {
        this.partial.push(line);
        line = Buffer.concat(this.partial, this.partialBytes + line.length);
        this.partial = [];
        this.partialBytes = 0;
        this.freeSpent();
      }
      from = nl + 1;
      this.line(line, joined);
    }
    if (from < chunk.length) {
      // A read with no line break in it, in memory of its own (no other line or read shares it): copied into the joined line, then freed.
      if (from === 0 && wholeRead(chunk)) this.spent.push(chunk.buffer as ArrayBuffer);
      this.partial.push(chunk.subarray(from));
      this.partialBytes += chunk.length - from;
    }
    if (this.partialBytes > MAX_LINE) {
      // The answer to one request, larger than the gateway reads: that request's loss, not the process's
      // (a client may choose an answer's size). Its start and end are kept, where the envelope's id is; the rest is dropped to the line's end.
      const parts = this.partial;
      let k = 0;
      for (let n = 0; k < parts.length && n < ENVELOPE_BYTES; k++) n += parts[k]!.length;
      let j = parts.length;
      for (let n = 0; j > 0 && n < ENVELOPE_BYTES; j--) n += parts[j - 1]!.length;
      this.skipping = { head: Buffer.from(Buffer.concat(parts.slice(0, k)).subarray(0, ENVELOPE_BYTES)), tail: lastBytes(Buffer.alloc(0), Buffer.concat(parts.slice(j))) };
      this.partial = [];
      this.partialBytes = 0;
      this.freeSpent();
    }
  }

  /**
   * Frees the reads a joined line was copied from (util/free-buffer.ts: V8 counts them until a GC, and a
   * relay of large answers allocates little else, so full mark-compacts would follow every few).
   */
  private freeSpent(): void {
    if (this.spent.length === 0) return;
    for (const ab of this.spent) freeArrayBuffer(ab);
    this.spent = [];
  }

  /** A line past the cap has ended: the request it answered fails now (-32034), if its id can be told. */
  private skipped(s: { head: Buffer; tail: Buffer }): void {
    const id = envelopeId(s.head.toString('latin1'), s.tail.toString('latin1'));
    const err = new AnswerTooLargeError(MAX_LINE, `backend wrote a line over ${MAX_LINE} bytes; it was skipped`);
    if (id !== undefined && this.onRequestFailed) this.onRequestFailed(id, err);
    else this.onerror?.(new Error(`${err.message} (no request id found at its start or end)`));
  }

  private line(bytes: Buffer, owned: boolean): void {
    if (this.rawResults) {
      // A result goes to the client as the bytes it came in (only the id changes): no decode, parse or stringify.
      const raw = scanResultResponse(bytes, owned);
      if (raw) return this.onmessage?.(rawMessage(raw) as unknown as JSONRPCMessage);
    }
    const line = bytes.toString('utf8');
    if (!line.trim()) return;
    let m: JSONRPCMessage;
    try {
      m = JSON.parse(line) as JSONRPCMessage;
    } catch {
      // Servers must write only protocol to stdout; say so instead of failing silently.
      this.onerror?.(new Error(`backend wrote a non-JSON line to stdout: ${line.slice(0, 200)}`));
      return;
    }
    this.onmessage?.(m);
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (this.closed || !stdin || stdin.destroyed) return Promise.reject(new Error('backend process is not running'));
    const line = `${JSON.stringify(message)}\n`;
    // The messages of one turn of the event loop go to the child in one write (writev) instead of one each.
    if (!this.corked) {
      this.corked = true;
      stdin.cork();
      setImmediate(this.uncork);
    }
    // Resolve at once unless the pipe is full; honour backpressure then, but never wait on a dead child.
    if (stdin.write(line)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        stdin.off('drain', onDrain);
        stdin.off('close', onClose);
        stdin.off('error', done);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(new Error('backend process stdin closed'));
      stdin.once('drain', onDrain);
      stdin.once('close', onClose);
      stdin.once('error', done);
    });
  }

  private readonly uncork = (): void => {
    this.corked = false;
    const stdin = this.child?.stdin;
    if (stdin && !stdin.destroyed) stdin.uncork();
  };

  async close(): Promise<void> {
    const child = this.child;
    if (this.closed || !child) {
      this.finish();
      return;
    }
    this.closing = true;
    child.stdin?.end();
    const exited = new Promise<void>((r) => child.once('close', () => r()));
    const term = setTimeout(() => child.kill('SIGTERM'), TERM_AFTER_MS);
    const kill = setTimeout(() => child.kill('SIGKILL'), TERM_AFTER_MS + KILL_AFTER_MS);
    term.unref();
    kill.unref();
    await Promise.race([exited, new Promise((r) => setTimeout(r, TERM_AFTER_MS + KILL_AFTER_MS + 100).unref())]);
    clearTimeout(term);
    clearTimeout(kill);
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}
