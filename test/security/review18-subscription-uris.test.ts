/**
 * Attack: a session subscribes to resources whose URIs are as long as a body may be (4 MiB).
 * A session keeps the URIs it subscribed to (up to 1,000 of them) for its life, and nothing
 * bounded their length: on a backend's own endpoint (`/servers/<name>/mcp`, where every URI
 * is that backend's) each `resources/subscribe` the backend accepted held one more 4 MiB
 * string. 200 of them held ~800 MB of the gateway's heap; the 1,000 one session may hold are
 * past node's default heap limit (~4 GB here), which ends the process. Now a resource URI is
 * at most 16,384 characters, as routing by template and authorization already bound it:
 * longer is -32602, and the session serves on. Performed against a real `mcpeg gateway`.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { answerOf, rawSession, spawnGateway } from '../helpers/gateway.js';

/** A backend that accepts every subscription and keeps none (its memory is not what is measured). */
const BACKEND = `
import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize')
    send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { resources: { subscribe: true } }, serverInfo: { name: 'subs', version: '1' } } });
  else if (m.method === 'resources/list') send({ id: m.id, result: { resources: [{ uri: 'mem://a', name: 'a' }] } });
  else if (m.method === 'resources/read') send({ id: m.id, result: { contents: [{ uri: m.params.uri, text: 'a' }] } });
  else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });
});
`;

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('review 18: resource subscriptions with URIs of megabytes', { timeout: 120_000 }, () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-review18-subs-'));
    const backend = join(dir, 'backend.mjs');
    writeFileSync(backend, BACKEND);
    const config = join(dir, 'mcpeg.json');
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        backends: { b: { type: 'mcp', command: process.execPath, args: [backend] }, c: { type: 'mcp', command: process.execPath, args: [backend] } },
      }),
    );
    const g = await spawnGateway(config);
    proc = g.proc;
    url = g.url.replace(/\/mcp$/, '/servers/b/mcp');
  });
  after(() => {
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('are refused past 16,384 characters; the gateway holds none of them', async () => {
    const s = await rawSession(url);
    const warm = await answerOf(await s.post({ jsonrpc: '2.0', id: 1, method: 'resources/subscribe', params: { uri: 'mem://a' } }), 1);
    assert.deepEqual(warm.result, {});
    const start = rssMb(proc!.pid!);
    const filler = 'x'.repeat(4_000_000);
    let held = 0;
    for (let i = 0; i < 200; i++) {
      const id = 100 + i;
      // Written out, not JSON.stringify'd: 200 bodies of 4 MB, cheaply.
      const body = `{"jsonrpc":"2.0","id":${id},"method":"resources/subscribe","params":{"uri":"mem://${i}/${filler}"}}`;
      const answer = await answerOf(await fetch(url, { method: 'POST', headers: s.headers, body }), id);
      if (answer.result !== undefined) held++;
      else assert.equal(answer.error?.code, -32602, JSON.stringify(answer.error).slice(0, 300));
    }
    const grown = rssMb(proc!.pid!) - start;
    assert.equal(held, 0, `${held} subscriptions of 4 MB URIs were taken (the gateway grew by ${Math.round(grown)} MB)`);
    // Parsing 200 bodies of 4 MB leaves garbage V8 may keep; 200 kept URIs were ~800 MB.
    assert.ok(grown < 400, `the gateway grew by ${Math.round(grown)} MB`);
    // A URI at the bound is still taken, and the session serves on.
    const edge = `mem://edge/${'y'.repeat(16_384 - 'mem://edge/'.length)}`;
    const ok = await answerOf(await s.post({ jsonrpc: '2.0', id: 2, method: 'resources/subscribe', params: { uri: edge } }), 2);
    assert.deepEqual(ok.result, {});
    const read = await answerOf(await s.post({ jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: 'mem://a' } }), 3);
    assert.ok(read.result !== undefined, JSON.stringify(read));
    assert.equal(proc!.exitCode, null);
  });
});
