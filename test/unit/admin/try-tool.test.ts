/**
 * The console's "try it" (src/admin/try-tool.ts) when nothing answers: a gateway code with
 * its HTTP status (504, MCPEG_ERR_BACKEND_TIMEOUT), not an untyped error the admin API
 * would answer 500; and the in-process connection is closed either way.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdminError } from '../../../src/admin/http.js';
import { tryTool } from '../../../src/admin/try-tool.js';
import type { Gateway } from '../../../src/gateway.js';

describe('tryTool', () => {
  it('answers MCPEG_ERR_BACKEND_TIMEOUT (504) when the call never answers, and closes its connection', async () => {
    const closed: string[] = [];
    const received: string[] = [];
    let write: ((m: unknown) => void) | undefined;
    const gw = {
      connect: (_who: unknown, w: (m: unknown) => void) => {
        write = w;
        return {
          receive: async (m: { id?: number; method: string }) => {
            received.push(m.method);
            // initialize answers; tools/call never does.
            if (m.method === 'initialize')
              write!({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: '2025-06-18', capabilities: {}, serverInfo: { name: 's', version: '1' } } });
          },
          close: async (why: string) => {
            closed.push(why);
          },
        };
      },
    } as unknown as Gateway;
    const err = await tryTool(gw, { name: 'ops', role: 'admin' } as never, 'slow', {}, 50).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AdminError, String(err));
    assert.equal(err.code, 'MCPEG_ERR_BACKEND_TIMEOUT');
    assert.equal(err.status, 504);
    assert.match(err.message, /tools\/call did not answer within 50 ms/);
    assert.deepEqual(received, ['initialize', 'notifications/initialized', 'tools/call']);
    assert.equal(closed.length, 1);
  });
});
