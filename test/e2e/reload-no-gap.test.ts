/**
 * A reload that changes a backend replaces it without a gap (make before break): the new
 * backend (a real stdio MCP server, server-everything, in a new child process) comes up
 * beside the old one, which serves every call until the new one is in; then the old one
 * drains the calls it holds and stops. Clients calling its tools meanwhile get every
 * answer, /health lists it throughout, and its unchanged tool list is not announced as
 * changed. Before, the old backend was taken out first: its tools were unknown, then
 * not yet up, until the new process had started and listed them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { validateConfig } from '../../src/config/load.js';
import { connectClient, everythingStdio, ROOT, startGateway, textOf, waitFor } from '../helpers/gateway.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a reload that changes a backend', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let clients: Client[] = [];
  let changes = 0;
  /** tools/list_changed the clients heard when each opened its backend session (server-everything registers more tools once initialized). */
  let atOpen = 0;
  const config = (generation: string) => ({ backends: { local: everythingStdio({ env: { MCPEG_TEST_GENERATION: generation } }) } });

  before(async () => {
    gw = await startGateway(config('1'));
    await waitFor(() => gw.gw.registry.backend('local')?.state === 'up', 'the backend up');
    clients = await Promise.all([1, 2, 3].map(() => connectClient(gw.url)));
    for (const c of clients) c.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    // list_changed travels on each client's GET stream, which the SDK opens after initialize.
    await waitFor(() => [...gw.gw.sessions.sessions()].filter((s) => s.outbound?.isOpen()).length === clients.length, "the clients' GET streams");
    // Each client's first call opens its own backend session (a process of its own).
    for (const c of clients) assert.equal(textOf(await c.callTool({ name: 'local__echo', arguments: { message: 'hi' } })), 'Echo: hi');
    await new Promise((r) => setTimeout(r, 500));
    atOpen = changes;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.close();
  });

  it('keeps answering its calls, keeps it in /health, and announces no change its tools did not make', async () => {
    const old = gw.gw.registry.backend('local')!;
    // The catalog's process and the clients' own (session_mode per_client).
    const oldPids = old.replicas.flatMap((r) => r.pids());
    assert.ok(oldPids.length >= 1 + clients.length, `the backend's child processes (${oldPids.length})`);
    const failures: string[] = [];
    const missing: string[] = [];
    let calls = 0;
    let reloading = true;
    // Three clients calling without pause, and /health polled, for as long as the reload runs.
    const callers = clients.map(async (c, i) => {
      while (reloading) {
        try {
          const text = textOf(await c.callTool({ name: 'local__echo', arguments: { message: `c${i}` } }));
          if (text !== `Echo: c${i}`) failures.push(`unexpected answer ${text}`);
          calls++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    });
    const health = (async () => {
      while (reloading) {
        const body = (await (await fetch(`${gw.base}/health`)).json()) as { backends?: Array<{ name: string }> };
        if (!body.backends?.some((b) => b.name === 'local')) missing.push(JSON.stringify(body).slice(0, 200));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const before = calls;
    const seen = changes;
    const r = await gw.gw.reload(validateConfig({ ...config('2'), server: { host: '127.0.0.1', port: 0 } }, 'test'));
    assert.deepEqual(r.changed, ['local']);
    await new Promise((r) => setTimeout(r, 300));
    reloading = false;
    await Promise.all([...callers, health]);
    assert.deepEqual(failures, [], 'every call during the reload was answered');
    assert.ok(calls > before + 10, `calls went on during the reload (${calls - before})`);
    assert.deepEqual(missing, [], '/health listed the backend throughout');
    // The new backend serves from a new process; the old one's is gone.
    const now = gw.gw.registry.backend('local')!;
    assert.notEqual(now, old, 'a new backend');
    assert.equal(now.state, 'up');
    const newPids = now.replicas.flatMap((r) => r.pids());
    assert.ok(newPids.length >= 1 && newPids.every((p) => !oldPids.includes(p)), 'new child processes');
    // The old backend drained and stopped within the reload: its processes are gone.
    await waitFor(() => oldPids.every((p) => !alive(p)), 'the old processes ended', 10_000);
    await new Promise((r) => setTimeout(r, 200));
    // The same tools from the new process: the clients hear what opening their new backend sessions announces, as at
    // their first call, and nothing for the swap (a client connected to the backend directly would have heard no more).
    assert.equal(JSON.stringify(now.catalog.tools), JSON.stringify(old.catalog.tools), 'the same catalog');
    assert.equal(changes - seen, atOpen, 'no tools/list_changed for the swap itself');
    assert.equal(textOf(await clients[0].callTool({ name: 'local__echo', arguments: { message: 'after' } })), 'Echo: after');
  });

  it('lets a call in flight on the old backend finish there, and closes its idle processes at once', async () => {
    const old = gw.gw.registry.backend('local')!;
    // Every client on a process of the old backend (the first test moved them to this one).
    for (const c of clients) assert.equal(textOf(await c.callTool({ name: 'local__echo', arguments: { message: 'x' } })), 'Echo: x');
    const oldPids = old.pids();
    assert.ok(oldPids.length >= 1 + clients.length, `the backend's child processes (${oldPids.length})`);
    // Client 0's call runs 3 s on its process; the reload replaces the backend meanwhile.
    const long = clients[0].callTool({ name: 'local__trigger-long-running-operation', arguments: { duration: 3, steps: 3 } });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const reloaded = gw.gw.reload(validateConfig({ ...config('3'), server: { host: '127.0.0.1', port: 0 } }, 'test'));
    // Once the new backend is in, the old one's idle processes close without waiting for the long call:
    // only the catalog's and the busy one are left while it runs.
    await waitFor(() => gw.gw.registry.backend('local') !== old, 'the new backend in place', 10_000);
    await waitFor(() => oldPids.filter(alive).length <= 2, 'the idle processes of the old backend closed', 2_000);
    assert.ok(Date.now() - started < 2_500, 'before the long call ended');
    // Calls keep being answered, by the new backend's processes (its environment is the new config's).
    assert.match(textOf(await clients[1].callTool({ name: 'local__get-env', arguments: {} })), /"MCPEG_TEST_GENERATION": ?"3"/);
    assert.match(textOf(await long), /Long running operation completed/, 'the call in flight finished on the old backend');
    assert.deepEqual((await reloaded).changed, ['local']);
    await waitFor(() => oldPids.every((p) => !alive(p)), 'the old processes ended', 10_000);
  });
});

/** Processes whose command line holds `mark` (read from /proc). */
function marked(mark: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(mark)) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('close() while a reload replaces a backend', () => {
  it('stops the replacement still coming up, and refuses a reload after it', async () => {
    const files = join(ROOT, 'dist/test/fixtures/files-server.js');
    const mark = `mcpeg-close-replace-${process.pid}`;
    // A backend whose process takes 2 s to come up (a slow npx or uvx server).
    const entry = (v: string) => ({ type: 'mcp', command: 'sh', args: ['-c', `sleep 2; exec "${process.execPath}" "${files}" ${mark}-${v}`], connect_timeout: '20s' });
    const gw = await startGateway({ backends: { files: entry('old') } });
    let closed = false;
    try {
      await waitFor(() => gw.gw.registry.backend('files')?.state === 'up', 'the first backend up');
      const reloaded = gw.gw.reload(validateConfig({ backends: { files: entry('new') }, server: { host: '127.0.0.1', port: 0 } }, 'test'));
      await new Promise((r) => setTimeout(r, 500)); // the replacement is starting, not in the set yet
      await gw.close();
      closed = true;
      await assert.rejects(reloaded, /shutting down/, 'the reload did not put a backend in place after close()');
      await assert.rejects(gw.gw.reload(validateConfig({ backends: {}, server: { host: '127.0.0.1', port: 0 } }, 'test')), /shutting down/);
      // Past the moment the replacement's process would have come up: nothing of this gateway is left.
      await new Promise((r) => setTimeout(r, 2500));
      assert.deepEqual(marked(mark), [], 'no backend process outlived close()');
    } finally {
      if (!closed) await gw.close();
      for (const p of marked(mark)) process.kill(p);
    }
  });
});

describe('a reload that changes a backend holding resource subscriptions for every client (session_mode: shared)', () => {
  it('makes them again on the replacement: the new process is subscribed and the clients hear its updates', async () => {
    const files = join(ROOT, 'dist/test/fixtures/files-server.js');
    const entry = (v: string) => ({ type: 'mcp', command: process.execPath, args: [files, `generation-${v}`], session_mode: 'shared' });
    const gw = await startGateway({ backends: { files: entry('1') } });
    const client = await connectClient(gw.url);
    try {
      await waitFor(() => gw.gw.registry.backend('files')?.state === 'up', 'the backend up');
      const updates: string[] = [];
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
      await waitFor(() => [...gw.gw.sessions.sessions()].some((s) => s.outbound?.isOpen()), "the client's GET stream");
      const uri = 'file:///public/readme.txt';
      await client.subscribeResource({ uri });
      assert.deepEqual(JSON.parse(textOf(await client.callTool({ name: 'files__subscribed', arguments: {} }))), [uri]);
      const r = await gw.gw.reload(validateConfig({ backends: { files: entry('2') }, server: { host: '127.0.0.1', port: 0 } }, 'test'));
      assert.deepEqual(r.changed, ['files']);
      // The new process holds the subscription (as a client connected to it directly would still have it through its session) ...
      await waitFor(async () => JSON.parse(textOf(await client.callTool({ name: 'files__subscribed', arguments: {} }))).includes(uri), 'the replacement subscribed');
      // ... and its update reaches the client.
      await client.callTool({ name: 'files__touch', arguments: { uri } });
      await waitFor(() => updates.includes(uri), 'notifications/resources/updated from the replacement');
    } finally {
      await client.close();
      await gw.close();
    }
  });
});
