/**
 * Review of issue #14 item 9 (per-session concurrency), as an attacker: stateless
 * (2026-07-28) requests over one legacy SSE connection (or stdio) were bounded by the
 * number of DISTINCT request ids in flight, so the same id sent many times counted once
 * and ran without a bound. A request id already in flight on the connection is now
 * refused (JSON-RPC 2.0 §4), and listen streams count toward the connection's share.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readSse, startGateway, waitFor } from '../helpers/gateway.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));
const abuse = { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } };
const ENVELOPE = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

interface Answer {
  id: number;
  result?: { structuredContent?: { maxActive: number } };
  error?: { code: number; data?: { mcpegCode?: string } };
}

/** A legacy SSE stream: its messages URL, and the answers it carries as they arrive. */
async function openLegacy(base: string, signal: AbortSignal): Promise<{ messages: string; answers: Answer[] }> {
  const res = await fetch(`${base}/sse`, { headers: { accept: 'text/event-stream' }, signal });
  assert.equal(res.status, 200);
  const answers: Answer[] = [];
  const events = readSse(res);
  const first = await events.next();
  const messages = new URL(first.value!.data, base).href;
  void (async () => {
    try {
      for await (const ev of events) if (ev.data) answers.push(JSON.parse(ev.data) as Answer);
    } catch {
      // aborted at the end of the test
    }
  })();
  return { messages, answers };
}

const postLegacy = (messages: string, body: unknown) =>
  fetch(messages, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.status);

describe('review: stateless requests over legacy SSE are bounded by max_inflight_per_session', { timeout: 30_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  const ctl = new AbortController();
  after(async () => {
    ctl.abort();
    await gw?.close();
  });

  it('20 stateless calls that all carry the same id: at most 2 run at the backend, the rest are refused', async () => {
    gw = await startGateway({ server: { max_inflight_per_session: 2 }, backends: abuse });
    const { messages, answers } = await openLegacy(gw.base, ctl.signal);
    const hold = (id: number, ms: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'abuse__hold', arguments: { ms }, _meta: ENVELOPE } });
    for (let i = 0; i < 20; i++) assert.equal(await postLegacy(messages, hold(7, 400)), 202);
    await waitFor(() => answers.filter((a) => a.id === 7).length === 20 || undefined, '20 answers to id 7');
    assert.equal(await postLegacy(messages, hold(8, 1)), 202);
    const last = await waitFor(() => answers.find((a) => a.id === 8), 'the answer to id 8');
    const peak = last.result!.structuredContent!.maxActive;
    assert.ok(peak <= 3, `the backend had ${peak} calls of one connection at once (max_inflight_per_session: 2)`);
    assert.ok(
      answers.some((a) => a.error?.data?.mcpegCode === 'MCPEG_ERR_SESSION_BUSY' || a.error?.data?.mcpegCode === 'MCPEG_ERR_INVALID_REQUEST'),
      'the surplus is refused',
    );
  });
});
