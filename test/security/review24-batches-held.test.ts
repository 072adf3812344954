/**
 * Review 24. Since 44cae9e a JSON-RPC batch (2025-03-26) over Streamable HTTP holds the
 * answers ready before its last one as JSON texts, up to 1 MiB, then turns the POST into an
 * SSE stream. That bound was per batch, and nothing bounded the batches together: while one
 * request of a batch is slow, the answers ready before it wait in the gateway, outside
 * `server.max_unsent_bytes` (which counts what was written to a socket), whether the client
 * reads or not. Through a real `mcpeg gateway` process with two stdio backends (a tool
 * answering ~1 MB, test/fixtures/big-results.ts; server-everything's long-running
 * operation, 12 s): 4 sessions send 50 batches each of `[big, long-running operation]`
 * (POSTs of ~300 bytes) and read every response. Every batch held its 1 MB answer until the
 * long operation ended (200 of 200: ~200 MB live for 12 s, the gateway grew by 415 MiB), and
 * more sessions (no per-client cap by default) hold more, 64 MB per session at
 * max_inflight_per_session's default. Now the answers held by all batches of the instance
 * together are bounded (64 MiB, src/transport/inbound/batch-hold.ts): past it a batch turns
 * to SSE at once and its answers reach the reading client as they are ready (67 held, 133
 * streamed). Each batch is still answered in full, each answer once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { everythingStdio, type GatewayProcess, rawSession, readSse, spawnGateway, stopGateway } from '../helpers/gateway.js';

const MiB = 1024 * 1024;
const SESSIONS = 4;
const BATCHES = 50; // per session: 100 requests, within max_inflight_per_session's 128
const BIG = fileURLToPath(new URL('../fixtures/big-results.js', import.meta.url));
const SLOW_S = 12;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/**
 * The ids one POST's response answered, in the order they became ready: a JSON array lists them so (each was added as
 * it was done), SSE sends them so. `streamed`: SSE, each answer sent when it was ready.
 */
async function answers(res: Response): Promise<{ ids: string[]; streamed: boolean }> {
  if (res.headers.get('content-type') === 'application/json') {
    const body = (await res.json()) as { id: string } | { id: string }[];
    return { ids: (Array.isArray(body) ? body : [body]).map((a) => a.id), streamed: false };
  }
  const ids: string[] = [];
  for await (const e of readSse(res)) {
    const m = JSON.parse(e.data) as { id?: string; method?: string };
    if (m.method === undefined) ids.push(m.id!); // answers only: a backend's notifications may come on the stream too
  }
  return { ids, streamed: true };
}

describe('review 24: many batches each holding an answer below 1 MiB (2025-03-26)', () => {
  let dir: string;
  let g: GatewayProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-r24-batches-'));
    const file = join(dir, 'mcpeg.json');
    writeFileSync(
      file,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        paths: { data: join(dir, 'data'), workspace: join(dir, 'workspace') },
        backends: { big: { type: 'mcp', command: process.execPath, args: [BIG, '--stdio'] }, e: everythingStdio() },
      }),
    );
    g = await spawnGateway(file);
  });
  after(async () => {
    await stopGateway(g);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the answers waiting in batches are bounded together, and every batch is answered in full', async () => {
    const sessions = await Promise.all(Array.from({ length: SESSIONS }, () => rawSession(g!.url, '2025-03-26')));
    // Each session's backend processes are up before the batches (their start is not what is measured).
    for (const s of sessions) {
      const warm = await s.post({ jsonrpc: '2.0', id: 'w', method: 'tools/call', params: { name: 'e__echo', arguments: { message: 'w' } } });
      assert.deepEqual((await answers(warm)).ids, ['w']);
    }
    const pid = g!.proc.pid!;
    const start = rssBytes(pid);
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, rssBytes(pid) - start)), 100);
    const batch = (s: number, b: number) => [
      { jsonrpc: '2.0', id: `b${s}-${b}`, method: 'tools/call', params: { name: 'big__big', arguments: { bytes: 1_000_000 } } },
      { jsonrpc: '2.0', id: `l${s}-${b}`, method: 'tools/call', params: { name: 'e__trigger-long-running-operation', arguments: { duration: SLOW_S, steps: 1 } } },
    ];
    const post = (s: (typeof sessions)[number], body: unknown) =>
      fetch(g!.url, { method: 'POST', headers: { ...s.headers, 'accept-encoding': 'identity' }, body: JSON.stringify(body) });
    const answered = await Promise.all(sessions.flatMap((s, i) => Array.from({ length: BATCHES }, async (_, b) => ({ s: i, b, ...(await answers(await post(s, batch(i, b)))) }))));
    clearInterval(sample);
    // Held: a 1 MB answer ready first that waited in the gateway for its batch's long operation (one JSON array).
    let held = 0;
    for (const { s, b, ids, streamed } of answered) {
      assert.deepEqual([...ids].sort(), [`b${s}-${b}`, `l${s}-${b}`], 'each request of the batch answered once');
      if (!streamed && ids[0] === `b${s}-${b}`) held++;
    }
    // The attack's premise: the 1 MB answers were ready well before the long operations (else nothing waits).
    const bigFirst = answered.filter((a) => a.ids[0] === `b${a.s}-${a.b}`).length;
    assert.ok(bigFirst >= 150, `only ${bigFirst} of the 1 MB answers were ready before their batch's long operation (a loaded machine?)`);
    // Old code: every batch held its 1 MB answer for the 8 s (200 of them); now at most the instance's 64 MiB
    // (~67 such answers), the others streamed as they were ready.
    assert.ok(
      held <= 80,
      `${held} of ${SESSIONS * BATCHES} batches held their 1 MB answer until their long operation ended (the gateway grew by up to ${Math.round(peak / MiB)} MiB)`,
    );
    // It serves on.
    assert.equal(((await (await sessions[0]!.post({ jsonrpc: '2.0', id: 'p', method: 'ping' })).json()) as { id: string }).id, 'p');
  });
});
