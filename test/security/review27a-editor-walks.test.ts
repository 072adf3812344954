/**
 * Review 27a: the editor's walks (list_directory, the file_stats and file_tree resources,
 * search_files) against a real `mcpeg gateway` run with the embedded default config, and an
 * official SDK client. A client writes a directory 14 levels deep of 250-character names
 * (paths of ~3,700 characters), and files of 200-character names in it: each entry then
 * costs the deny list's match over its whole path (~3.5 ms). (1) list_directory had no bound
 * but `limit` (10,000): 10,000 such files took 16 s of the gateway's event loop and answered
 * 77 MB, 128 at once per session. (2) A cancelled call gives its slot back at once, but the
 * walks never read the call's signal: cancelled listings ran to their end, so a client
 * sending and cancelling ran any number at once. (3) The check of a directory before it is
 * moved or deleted looped over each directory's entries without yielding: a move to a denied
 * name (refused after the check, so repeatable) held the event loop for every client. Now a
 * listing answers at most 4 MiB of paths (then `truncated`), every walk stops when its call
 * is cancelled, and the move/delete check shares the event loop for at most 10 s.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, defaultGatewayWithClient, endDefaultGateway, type GatewayProcess } from '../helpers/gateway.js';

const FILES = 1300;
const DEEP = Array.from({ length: 14 }, (_, i) => String(i).padEnd(250, 'd')).join('/');
const TICK_MS = 10; // USER_HZ: /proc's CPU times are in ticks of 1/100 s on Linux

/** CPU time (user + system) the process has used, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

describe('review 27a: the editor walks are bounded and stop when cancelled', () => {
  let dir: string;
  let gw: GatewayProcess | undefined;
  let client: Client | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-r27a-walks-'));
    ({ gw, client } = await defaultGatewayWithClient(dir));
    const made = await client.callTool({ name: 'editor__create_file', arguments: { path: `${DEEP}/seed`, content: '', create_dirs: true } });
    assert.notEqual(made.isError, true, JSON.stringify(made));
    for (let i = 0; i < FILES; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) => client!.callTool({ name: 'editor__create_file', arguments: { path: `${DEEP}/${String(i + j).padStart(200, 'f')}`, content: '' } })),
      );
    }
  });
  after(async () => {
    await endDefaultGateway(gw, client, dir);
  });

  it('list_directory answers at most 4 MiB of paths, then says it is truncated', async () => {
    const r = await client!.callTool({ name: 'editor__list_directory', arguments: { path: DEEP, limit: 10_000 } });
    assert.notEqual(r.isError, true);
    const s = r.structuredContent as { entries: Array<{ path: string }>; truncated: boolean };
    const chars = s.entries.reduce((n, e) => n + e.path.length, 0);
    // 1,301 entries of ~3,700 characters are ~4.8 MiB: the whole directory, before.
    assert.ok(chars <= 4 * 1024 * 1024, `the listing answered ${chars} characters of paths`);
    assert.equal(s.truncated, true);
    assert.ok(s.entries.length > 1000, `${s.entries.length} entries`);
  });

  /** Sends 40 calls of `name`, cancels them 300 ms later, and gives the gateway's CPU time (ms) in the 3 s from 1 s after. */
  const cpuAfterCancelling = async (name: string, args: Record<string, unknown>): Promise<number> => {
    const pid = gw!.proc.pid!;
    const calls = Array.from({ length: 40 }, () => {
      const ac = new AbortController();
      const done = client!.callTool({ name, arguments: args }, undefined, { signal: ac.signal }).catch(() => undefined);
      return { ac, done };
    });
    await new Promise((r) => setTimeout(r, 300));
    for (const c of calls) c.ac.abort('the client changed its mind');
    await Promise.all(calls.map((c) => c.done));
    await new Promise((r) => setTimeout(r, 1000));
    const start = cpuMs(pid);
    await new Promise((r) => setTimeout(r, 3000));
    return cpuMs(pid) - start;
  };

  it('cancelled list_directory calls stop: the gateway is idle once they are cancelled', async () => {
    const used = await cpuAfterCancelling('editor__list_directory', { path: DEEP, limit: 10_000 });
    // Before: 40 listings of ~5 s each went on after their cancellation (the gateway at 100%).
    assert.ok(used < 1000, `the gateway used ${used} ms of CPU in the 3 s after its calls were cancelled`);
    const ping = Date.now();
    await client!.ping();
    assert.ok(Date.now() - ping < 1000, `a ping took ${Date.now() - ping} ms`);
  });

  it('cancelled search_files calls stop too', async () => {
    const used = await cpuAfterCancelling('editor__search_files', { pattern: 'x', path: DEEP });
    assert.ok(used < 1000, `the gateway used ${used} ms of CPU in the 3 s after its searches were cancelled`);
  });

  it("moving the directory to a denied name: the check shares the event loop, other clients' pings are answered meanwhile", async () => {
    const other = await connectClient(gw!.url);
    try {
      const started = Date.now();
      // Refused after the check of every entry (`.env` is denied), so nothing changes: repeatable at will.
      const move = client!.callTool({ name: 'editor__move_file', arguments: { from: DEEP, to: '.env' } });
      await new Promise((r) => setTimeout(r, 300));
      const ping = Date.now();
      await other.ping();
      const pingMs = Date.now() - ping;
      const r = await move;
      const moveMs = Date.now() - started;
      assert.equal(r.isError, true);
      assert.match(JSON.stringify(r.content), /PATH_DENIED|deny list/);
      // Before: the check's loop over one directory's 1,301 entries (~3.5 ms each) never
      // yielded, and the ping waited for all of it (~4.5 s, the move's whole time).
      assert.ok(pingMs < 1000, `another client's ping took ${pingMs} ms while the move (${moveMs} ms) was checked`);
    } finally {
      await other.close();
    }
  });
});
