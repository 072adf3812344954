/**
 * stdio transport (MCP transport spec): newline-delimited JSON-RPC on stdin/stdout.
 * Nothing but protocol messages is ever written to stdout; logs go to stderr.
 */
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { GatewayError } from '../../errors/catalog.js';
import type { DispatchOptions } from '../../protocol/dispatch.js';
import { errorResponse } from '../../wire/jsonrpc.js';
import type { SessionManager } from '../../protocol/sessions.js';
import { ChannelConnection } from './channel.js';
import { parseMessages } from '../../edge/http-util.js';
import { messageBody } from '../../wire/raw-json.js';
import type { Logger } from '../../observability/logger.js';
import { readLines } from './stdio-lines.js';
import { UnsentWatch, type UnsentLimits } from '../../edge/unsent.js';

/** How a stdio session ended: its input ended (the client closed it), or the client stopped reading (stdout's bounds). */
export type StdioEnd = 'ended' | 'stalled';

/** The stdio edge's bounds: server.max_body_bytes for a line, send_timeout and max_unsent_bytes for stdout. */
export interface StdioLimits extends UnsentLimits {
  maxLineBytes: number;
}

export function serveStdio(
  viewId: string,
  sessions: SessionManager,
  dispatch: DispatchOptions,
  input: Readable,
  output: Writable,
  limits: StdioLimits,
  log?: Logger,
): Promise<StdioEnd> {
  const { maxLineBytes, maxUnsentBytes } = limits;
  // Set when the client stopped taking what is written (below): nothing more is written, the session ends.
  let stalled = false;
  const stall = () => {
    if (stalled) return;
    stalled = true;
    output.destroy();
    input.destroy();
  };
  // stdout's backpressure: while the client has not taken what was written, no more input is read (what
  // was read is served; a read is at most a pipe's 64 KiB). Unread answers were kept whole: a client
  // writing 2-byte lines and reading none grew the gateway ~200 bytes per input byte, without bound.
  let held = false;
  const holdInput = () => {
    if (held || !output.writableNeedDrain) return;
    held = true;
    input.pause();
    const go = () => {
      output.off('drain', go).off('close', go);
      held = false;
      input.resume();
    };
    // A closed stdout (the client gone) lets the input run to its end, which ends the session.
    output.on('drain', go).on('close', go);
  };
  // One line per message; a large result relayed as bytes goes out as its bytes (wire/raw-json.ts).
  // The size of the last message written, as writableLength counts it (a string's length, a buffer's bytes).
  let last = 0;
  const write = (msg: object) => {
    if (stalled) return;
    // What waits beyond the last message, checked at each write (not once a second as on the HTTP edge: one client,
    // and a backend sends ~100 MiB a second). A message larger than the bound still goes to a client that reads.
    if (maxUnsentBytes > 0 && output.writableLength - last > maxUnsentBytes) {
      log?.warn(
        { reason: 'max_unsent_bytes', bytes: output.writableLength, limit: maxUnsentBytes },
        'the stdio client took none of what waits for it past server.max_unsent_bytes: the session ends',
      );
      stall();
      return;
    }
    const body = messageBody(msg);
    if (typeof body === 'string') {
      output.write(`${body}\n`);
      last = body.length + 1;
    } else {
      last = 1;
      for (const chunk of body) {
        output.write(chunk);
        last += chunk.length;
      }
      output.write('\n');
    }
    holdInput();
  };
  const conn = new ChannelConnection(viewId, sessions, dispatch, write);
  conn.onUnwritable = (why) => log?.warn({ err: why }, 'a message could not be written to the stdio client: an answer went as an error, anything else was dropped');
  // A failure past the connection's own handling is this message's, logged: never an unhandled rejection (the process's end).
  const failed = (err: unknown) => log?.error({ err: String((err as Error)?.message ?? err).slice(0, 1000) }, 'a stdio client message failed');
  // What the client has not taken, as the HTTP edge bounds it (edge/unsent.ts): holding input back stops the client's
  // own requests, not what backends send (progress, log messages, updates), which piled up in memory without bound
  // while the client read nothing. Past server.max_unsent_bytes waiting (above), or server.send_timeout without
  // progress (the edge's sweep; a pipe's stdout is a Socket, a file's writes are synchronous), the session ends as if
  // the client had gone. process.stdout cannot be closed (its destroy() keeps the descriptor and what waits on it):
  // the caller ends the process on 'stalled'.
  const watch = log && limits.sendTimeoutMs > 0 && output instanceof Socket ? new UnsentWatch({ ...limits, maxUnsentBytes: 0 }, log, 'stdio') : undefined;
  watch?.track(output as Socket, stall);
  watch?.start();
  return new Promise((resolve) => {
    readLines(input, maxLineBytes, {
      line(bytes) {
        if (isBlank(bytes)) return;
        // The same parse and envelope check as the HTTP edge, with the same errors.
        const parsed = parseMessages(bytes);
        if (!parsed.ok) {
          write(errorResponse(null, new GatewayError(parsed.code, parsed.message).toJsonRpc()));
          return;
        }
        if (parsed.batch) conn.receiveBatch(parsed.messages).catch(failed);
        else conn.receive(parsed.messages[0]).catch(failed);
      },
      tooLong() {
        const err = new GatewayError('MCPEG_ERR_BODY_TOO_LARGE', `a message line over ${maxLineBytes} bytes (server.max_body_bytes) was dropped`);
        write(errorResponse(null, err.toJsonRpc()));
      },
      end() {
        watch?.stop();
        void conn.close(stalled ? 'the client stopped reading' : 'stdin closed').finally(() => resolve(stalled ? 'stalled' : 'ended'));
      },
    });
  });
}

/** Only spaces, tabs and CRs (a CRLF's CR): looked at up to the first other byte, so a message line costs one byte. */
function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}
