/**
 * stdio transport (MCP transport spec): newline-delimited JSON-RPC on stdin/stdout.
 * Nothing but protocol messages is ever written to stdout; logs go to stderr.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { ERRORS } from '../../errors/catalog.js';
import type { DispatchOptions } from '../../protocol/dispatch.js';
import { envelopeProblem, type JsonRpcMessage } from '../../protocol/jsonrpc.js';
import type { SessionManager } from '../../protocol/sessions.js';
import { ChannelConnection } from './channel.js';

export function serveStdio(viewId: string, sessions: SessionManager, dispatch: DispatchOptions, input: Readable, output: Writable): Promise<void> {
  const write = (msg: unknown) => output.write(`${JSON.stringify(msg)}\n`);
  const conn = new ChannelConnection(viewId, sessions, dispatch, write);
  const rl = createInterface({ input, crlfDelay: Infinity });
  rl.on('line', (line) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      write({ jsonrpc: '2.0', id: null, error: { code: ERRORS.MCPEG_ERR_PARSE.rpc, message: `Parse error: ${(err as Error).message}` } });
      return;
    }
    const problem = envelopeProblem(value);
    if (problem) {
      const id = (value as { id?: unknown })?.id;
      write({ jsonrpc: '2.0', id: typeof id === 'string' || typeof id === 'number' ? id : null, error: { code: ERRORS.MCPEG_ERR_INVALID_REQUEST.rpc, message: `Invalid Request: ${problem}` } });
      return;
    }
    void conn.receive(value as JsonRpcMessage);
  });
  return new Promise((resolve) => {
    rl.on('close', () => {
      void conn.close('stdin closed').finally(resolve);
    });
  });
}
