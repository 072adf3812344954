/**
 * Regression: a client made a backend answer its own calls with JSON-RPC -32603 (internal
 * error) through their arguments, and -32603 counted against the replica's circuit breaker
 * and outlier detection (and, for safe methods, was retried). The official reference server
 * (@modelcontextprotocol/server-everything), like any SDK server whose handler throws a plain
 * Error on bad input, answers prompts/get of `resource-prompt` with `resourceId: "x"` so.
 * Three such calls from client A (each retried twice) opened the breaker, and client B's
 * calls then failed fast with -32017 for the 15 s cool-down: one client took the backend
 * from all. A JSON-RPC error response is now that call's answer, counted for nothing else.
 *
 * The same with timeouts: the reference server's long-running tool takes as long as the
 * client asks, so ten calls at once past the backend's timeout opened the breaker (and
 * ejected the replica) for every client. A timeout now counts against the replica only if
 * a ping on the replica's own connection gets no answer either (src/relay/policies/timeout-probe.ts);
 * a backend that stops answering everything (a stdio child stopped with SIGSTOP) still
 * opens its breaker.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { fileURLToPath } from 'node:url';
import { connectClient, EVERYTHING, everythingStdio, startGateway, textOf, waitFor } from '../helpers/gateway.js';

/** Serves both lifecycles (SDK v2): on stdio, a stateful client's session is a process of its own. */
const DUAL = fileURLToPath(new URL('../fixtures/stateless-server.js', import.meta.url));

describe('a -32603 a client provokes with its arguments is that call’s error, not the replica’s', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let a: Client;
  let b: Client;

  before(async () => {
    // Default breaker (half of at least 10 calls in 30 s); one child shared by both clients.
    gw = await startGateway({ backends: { e: everythingStdio({ session_mode: 'shared', health_check: { interval: '10m' } }) } });
    a = await connectClient(gw.url, { name: 'attacker' });
    b = await connectClient(gw.url, { name: 'bystander' });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await gw?.close();
  });

  it('twelve bad prompt arguments from A: B’s prompts/get still served, the breaker closed', async () => {
    for (let n = 0; n < 12; n++) {
      const err = await a.getPrompt({ name: 'e__resource-prompt', arguments: { resourceType: 'Text', resourceId: 'x' } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof McpError, String(err));
      if (err.code === -32017) assert.fail(`call ${n}: the breaker opened: ${err.message}`);
      assert.equal(err.code, -32603, err.message);
    }
    const ok = await b.getPrompt({ name: 'e__resource-prompt', arguments: { resourceType: 'Text', resourceId: '1' } });
    assert.ok(ok.messages.length > 0);
    const [replica] = gw.gw.registry!.backend('e')!.replicaStates();
    assert.equal(replica.breaker, 'closed');
    assert.equal(replica.available, true);
  });
});

/** Ten calls from `client` at once to a tool, each answered with an error: their JSON-RPC codes. */
function tenCalls(client: Client, name: string, args: Record<string, unknown>): Promise<number[]> {
  return Promise.all(
    Array.from({ length: 10 }, () =>
      client.callTool({ name, arguments: args }).then(
        () => 0,
        (e: unknown) => (e as McpError).code,
      ),
    ),
  );
}

const slow = { duration: 3, steps: 1 };

describe('timeouts a client provokes with its arguments are that call’s errors, not the replica’s', () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  let a: Client | undefined;
  let b: Client | undefined;

  async function start(backend: Record<string, unknown>): Promise<void> {
    gw = await startGateway({ backends: { e: backend } });
    a = await connectClient(gw.url, { name: 'attacker' });
    b = await connectClient(gw.url, { name: 'bystander' });
  }
  afterEach(async () => {
    await a?.close();
    await b?.close();
    await gw?.close();
    gw = a = b = undefined;
  });

  // Default breaker: half of at least 10 calls in 30 s.
  for (const mode of ['shared', 'per_client'] as const) {
    it(`${mode}: ten calls past the timeout from A: every one -32011, B served, the breaker closed`, async () => {
      await start(everythingStdio({ session_mode: mode, timeout: '1s', health_check: { interval: '10m' } }));
      assert.deepEqual(new Set(await tenCalls(a!, 'e__trigger-long-running-operation', slow)), new Set([-32011]));
      // The verdicts land once the pings are answered: give them time to count, if they did.
      await new Promise((r) => setTimeout(r, 500));
      const ok = await b!.callTool({ name: 'e__echo', arguments: { message: 'hi' } });
      assert.equal((ok.content as Array<{ text: string }>)[0].text, 'Echo: hi');
      const [replica] = gw!.gw.registry!.backend('e')!.replicaStates();
      assert.equal(replica.breaker, 'closed');
      assert.equal(replica.available, true);
    });
  }

  it('per_client: A hangs its own process (stopped): its timeouts are its own, B served, the breaker closed', async () => {
    await start(everythingStdio({ session_mode: 'per_client', timeout: '1s', health_check: { interval: '10m' } }));
    const backend = gw!.gw.registry!.backend('e')!;
    const before = new Set(backend.pids());
    await a!.callTool({ name: 'e__echo', arguments: { message: 'mine' } });
    const own = backend.pids().filter((p) => !before.has(p));
    assert.equal(own.length, 1, 'A’s first call opened a process of its own');
    // A tool that blocks its process's event loop does the same; SIGSTOP is that, for sure.
    process.kill(own[0], 'SIGSTOP');
    try {
      assert.deepEqual(new Set(await tenCalls(a!, 'e__echo', { message: 'x' })), new Set([-32011]));
      // Past the probe's deadline (min(timeout, 5 s) = 1 s): a ping of A's stopped process would have failed by then.
      await new Promise((r) => setTimeout(r, 2000));
      const ok = await b!.callTool({ name: 'e__echo', arguments: { message: 'hi' } });
      assert.equal((ok.content as Array<{ text: string }>)[0].text, 'Echo: hi');
      const [replica] = backend.replicaStates();
      assert.equal(replica.breaker, 'closed');
      assert.equal(replica.available, true);
    } finally {
      process.kill(own[0], 'SIGCONT');
    }
  });

  it('two replicas: ten calls past the timeout (five each) eject neither', async () => {
    const replica = { command: process.execPath, args: [EVERYTHING, 'stdio'] };
    // Default outlier detection: ejected after 5 failures in a row, at most 50 % (one of two) out.
    await start({ type: 'mcp', replicas: [replica, replica], session_mode: 'shared', timeout: '1s', health_check: { interval: '10m' } });
    assert.deepEqual(new Set(await tenCalls(a!, 'e__trigger-long-running-operation', slow)), new Set([-32011]));
    await new Promise((r) => setTimeout(r, 500));
    const states = gw!.gw.registry!.backend('e')!.replicaStates();
    assert.deepEqual(
      states.map((r) => [r.ejected, r.available]),
      [
        [false, true],
        [false, true],
      ],
    );
    await b!.callTool({ name: 'e__echo', arguments: { message: 'hi' } });
  });

  it('a backend that answers nothing (its child stopped) still opens the breaker: B then gets -32017', async () => {
    await start(everythingStdio({ session_mode: 'shared', timeout: '1s', health_check: { interval: '10m' } }));
    const [pid] = gw!.gw.registry!.backend('e')!.pids();
    process.kill(pid, 'SIGSTOP');
    try {
      // Even calls that should be quick: the ping after each timeout gets no answer either.
      assert.deepEqual(new Set(await tenCalls(a!, 'e__echo', { message: 'x' })), new Set([-32011]));
      await waitFor(() => gw!.gw.registry!.backend('e')!.replicaStates()[0].breaker === 'open', 'the breaker to open', 5000);
      const err = await b!.callTool({ name: 'e__echo', arguments: { message: 'hi' } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof McpError, String(err));
      assert.equal(err.code, -32017, err.message);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  it('shared mode, both lifecycles on stdio: the stateful clients’ shared process is judged, not the stateless catalog beside it', async () => {
    // Regression: every timeout was judged by a ping of the catalog session, here a stateless
    // process of its own, which answered while the process every stateful client shares hung.
    await start({ type: 'mcp', command: process.execPath, args: [DUAL, '--stdio'], session_mode: 'shared', timeout: '1s', health_check: { interval: '10m' } });
    const backend = gw!.gw.registry!.backend('e')!;
    // A slow call the client asked for (150 progress steps, 20 ms apart): the shared process answers the ping.
    assert.deepEqual(new Set(await tenCalls(a!, 'e__progress', { steps: 150 })), new Set([-32011]));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(backend.replicaStates()[0].breaker, 'closed');
    const pid = Number(/pid=(\d+)/.exec(textOf(await b!.callTool({ name: 'e__whoami', arguments: {} })))?.[1]);
    assert.notEqual(pid, backend.pids()[0], 'stateful clients share a process beside the catalog');
    process.kill(pid, 'SIGSTOP');
    try {
      // Twenty failures against the eleven successes above: past half.
      for (let n = 0; n < 2; n++) assert.deepEqual(new Set(await tenCalls(a!, 'e__whoami', {})), new Set([-32011]));
      await waitFor(() => backend.replicaStates()[0].breaker === 'open', 'the breaker to open', 5000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });

  it('a backend without a timeout of its own (0), a tool’s 1 s: its child stopped, the calls still end and the breaker opens', async () => {
    // Regression: the ping took the backend's timeout, 0, as its deadline, so it had none: its
    // verdict never came, retried calls waited for it forever and the breaker never opened.
    await start(everythingStdio({ session_mode: 'shared', timeout: 0, tools: { echo: { timeout: '1s', idempotent: true } }, health_check: { interval: '10m' } }));
    const [pid] = gw!.gw.registry!.backend('e')!.pids();
    process.kill(pid, 'SIGSTOP');
    try {
      // 1 s to time out, 5 s for the ping's verdict, then the retry: refused by the open breaker, or timed out again.
      const hung = new Promise<string>((r) => setTimeout(() => r('no answer'), 12_000).unref());
      const codes = await Promise.race([tenCalls(a!, 'e__echo', { message: 'x' }), hung]);
      assert.ok(Array.isArray(codes), 'the calls got no answer');
      assert.deepEqual(
        codes.filter((c) => c !== -32011 && c !== -32017),
        [],
      );
      await waitFor(() => gw!.gw.registry!.backend('e')!.replicaStates()[0].breaker === 'open', 'the breaker to open', 5000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});
