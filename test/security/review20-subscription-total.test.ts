/**
 * Attack (review 20): review 18 bounded a subscribed resource URI at 16,384 characters, and a
 * session holds at most 1,000 subscriptions: still ~33 MB of URIs per session (two-byte
 * characters), for the session's life, and `server.max_sessions` lets 10,000 sessions open.
 * One unauthenticated client on a backend's own endpoint (`/servers/<name>/mcp`, where any URI
 * is that backend's) filled a session in ~1.7 s: 125 sessions, about 3.5 minutes, reach
 * node's heap limit. And the bound was checked before the backend answered: concurrent
 * subscribes all passed it. Now a session's URIs together are at most 65,536 characters,
 * those still waiting for the backend counted too. Performed against a real `mcpeg gateway`.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { answerOf, rawSession, spawnScriptGateway } from '../helpers/gateway.js';

/** A backend that accepts every subscription (after 50 ms: concurrent ones overlap) and keeps none. */
const BACKEND = `
import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize')
    send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { resources: { subscribe: true } }, serverInfo: { name: 'subs', version: '1' } } });
  else if (m.method === 'resources/list') send({ id: m.id, result: { resources: [{ uri: 'mem://a', name: 'a' }] } });
  else if (m.method === 'resources/subscribe') setTimeout(() => send({ id: m.id, result: {} }), 50);
  else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });
});
`;

const MAX_URI = 16_384;
const TOTAL = 65_536;
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('review 20: the URIs one session subscribes to, together', { timeout: 180_000 }, () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let url: string;

  before(async () => {
    const g = await spawnScriptGateway(BACKEND, 'mcpeg-review20-subs-');
    dir = g.dir;
    proc = g.proc;
    url = g.url.replace(/\/mcp$/, '/servers/b/mcp');
  });
  after(() => {
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** A URI of exactly 16,384 characters (two-byte ones: 32 KB of heap each). */
  const uri = (tag: string) => {
    const head = `mem://${tag}/`;
    return head + '中'.repeat(MAX_URI - head.length);
  };

  it('sessions filled with URIs at the length bound hold 65,536 characters each, concurrent subscribes included', async () => {
    const start = rssMb(proc!.pid!);
    for (let k = 0; k < 3; k++) {
      const s = await rawSession(url);
      let held = 0;
      const one = async (i: number) => {
        const a = await answerOf(await s.post({ jsonrpc: '2.0', id: i, method: 'resources/subscribe', params: { uri: uri(`${k}/${i}`) } }), i);
        if (a.result !== undefined) held++;
        else assert.equal(a.error?.code, -32602, JSON.stringify(a.error).slice(0, 300));
      };
      // 1,000 subscribes, 32 at a time: the backend answers each after 50 ms, so they overlap.
      for (let i = 0; i < 1000; i += 32) await Promise.all(Array.from({ length: 32 }, (_, j) => one(i + j)));
      assert.equal(held, TOTAL / MAX_URI, `session ${k} holds ${held} URIs of ${MAX_URI} characters (${held * MAX_URI} characters)`);
    }
    const grown = rssMb(proc!.pid!) - start;
    // Parsing 3,000 bodies of 48 KB leaves garbage V8 may keep; 3,000 kept URIs were ~100 MB.
    assert.ok(grown < 150, `the gateway grew by ${Math.round(grown)} MB`);
  });

  it('an unsubscribe frees its characters; short URIs still go up to 1,000; the session serves on', async () => {
    const s = await rawSession(url);
    const sub = async (id: number, u: string) => answerOf(await s.post({ jsonrpc: '2.0', id, method: 'resources/subscribe', params: { uri: u } }), id);
    for (let i = 0; i < 4; i++) assert.deepEqual((await sub(i, uri(`x/${i}`))).result, {});
    assert.equal((await sub(10, uri('x/4'))).error?.code, -32602);
    // Subscribing again to a URI held is not another one.
    assert.deepEqual((await sub(11, uri('x/0'))).result, {});
    assert.deepEqual((await answerOf(await s.post({ jsonrpc: '2.0', id: 12, method: 'resources/unsubscribe', params: { uri: uri('x/0') } }), 12)).result, {});
    assert.deepEqual((await sub(13, uri('x/4'))).result, {});
    // Another session: 1,000 short URIs (60 characters each) are all taken.
    const t = await rawSession(url);
    let held = 0;
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const u = `mem://short/${String(i + j).padStart(4, '0')}/${'z'.repeat(43)}`;
          const a = await answerOf(await t.post({ jsonrpc: '2.0', id: i + j, method: 'resources/subscribe', params: { uri: u } }), i + j);
          if (a.result !== undefined) held++;
        }),
      );
    }
    assert.equal(held, 1000);
    assert.deepEqual((await answerOf(await s.post({ jsonrpc: '2.0', id: 20, method: 'ping' }), 20)).result, {});
    assert.equal(proc!.exitCode, null);
  });
});
