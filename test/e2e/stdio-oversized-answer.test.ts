/**
 * Regression: over stdio, a client could still take a backend away from every client. A
 * tool whose answer's size the client chooses (here `big {bytes}`; a file reader, an
 * echo) wrote a line past the 64 MiB the gateway reads, and the gateway closed the
 * transport: the child, shared by every client, was killed with their calls in flight,
 * restarted, and the failures counted against its breaker. Over HTTP the same answer was
 * already that call's error (-32034). Now a line past the cap is skipped to its end and
 * fails the call it answered (its id read from the line's start or end, where SDK servers
 * write it), while the child and the other clients' calls go on.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/big-results.js', import.meta.url));
const OVER = 65 * 1024 * 1024;
// No periodic health check during the test: a ping could only be the probe a transport failure triggers.
const STDIO = { type: 'mcp', command: process.execPath, args: [FIXTURE, '--stdio'], timeout: '20s', health_check: { interval: '10m' } };

async function tooLarge(call: Promise<unknown>, what: string): Promise<void> {
  const started = Date.now();
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof McpError, `${what}: ${String(err)}`);
  assert.deepEqual([err.code, (err.data as { mcpegCode?: string }).mcpegCode], [-32034, 'MCPEG_ERR_BACKEND_ANSWER_TOO_LARGE'], `${what}: ${err.message}`);
  assert.ok(Date.now() - started < 15_000, `${what}: failed when the line ended, not at the call's timeout`);
}

describe('stdio: an answer past 64 MiB fails its call, not the child every client shares', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let a: Client;
  let b: Client;

  before(async () => {
    gw = await startGateway({
      backends: {
        // One child for every client: A's answer and B's call share it.
        s: { ...STDIO, session_mode: 'shared' },
        // A child per client session (the default): A's answers must not count against the replica's breaker.
        p: STDIO,
      },
    });
    a = await connectClient(gw.url, { name: 'attacker' });
    b = await connectClient(gw.url, { name: 'bystander' });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await gw?.close();
  });

  it('shared child: A’s oversized answers (id first or last) fail A’s calls at once with -32034; B’s call in flight beside them is answered; the child lives on', async () => {
    const backend = () => gw.gw.registry!.backend('s')!;
    assert.equal(textOf(await b.callTool({ name: 's__big', arguments: { bytes: 3 } })), 'xxx');
    const pids = backend().pids();
    const restarts = backend().restarts;
    for (const shape of ['plain', 'result-first']) {
      // B's call goes out right after A's: the child answers it after A's huge line.
      const attack = tooLarge(a.callTool({ name: 's__big', arguments: { bytes: OVER, shape } }), shape);
      const bystander = b.callTool({ name: 's__big', arguments: { bytes: 4 } }).then(textOf, (e: unknown) => String(e));
      await attack;
      assert.equal(await bystander, 'xxxx', shape);
    }
    assert.equal(textOf(await a.callTool({ name: 's__big', arguments: { bytes: 2 } })), 'xx');
    assert.deepEqual(backend().pids(), pids, 'the same child');
    assert.equal(backend().restarts, restarts, 'not restarted');
    const [replica] = backend().replicaStates();
    assert.equal(replica.state, 'up');
    assert.equal(replica.breaker, 'closed');
  });

  it('a child per client: ten oversized answers in a row neither open the breaker nor drop A’s session', async () => {
    const backend = () => gw.gw.registry!.backend('p')!;
    assert.equal(textOf(await a.callTool({ name: 'p__big', arguments: { bytes: 1 } })), 'x');
    assert.equal(textOf(await b.callTool({ name: 'p__big', arguments: { bytes: 1 } })), 'x');
    const pids = backend().pids().sort();
    // The breaker opens at half of at least 10 calls failing: these are all of the window's but B's one.
    for (let n = 0; n < 10; n++) await tooLarge(a.callTool({ name: 'p__big', arguments: { bytes: OVER } }), `call ${n}`);
    const [replica] = backend().replicaStates();
    assert.equal(replica.breaker, 'closed');
    assert.equal(replica.available, true);
    assert.equal(textOf(await b.callTool({ name: 'p__big', arguments: { bytes: 5 } })), 'xxxxx');
    assert.equal(textOf(await a.callTool({ name: 'p__big', arguments: { bytes: 2 } })), 'xx');
    assert.deepEqual(backend().pids().sort(), pids, 'no child was closed or started');
  });
});
