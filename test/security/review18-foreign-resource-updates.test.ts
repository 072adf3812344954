/**
 * Attack: a backend announces updates of another backend's resources. A client subscribed
 * to `docs://y/readme` (served by backend y) was sent every `notifications/resources/updated`
 * naming that URI, whichever backend of its view sent it, with whatever else the sender put
 * in its params: backend x (untrusted like every backend) could make clients believe y's
 * resources changed, as often as it liked, on its per-client sessions and on a shared one.
 * Now an update reaches a client only from the backend its URI routes to, as resubscribing
 * already decided. Performed against a real `mcpeg gateway` with the official SDK client.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { spawnGateway } from '../helpers/gateway.js';

/** Backend `x` or `y` (argv[2]): y serves docs://y/readme; each one's tool `poke` announces an update of it, then answers. */
const BACKEND = `
import { createInterface } from 'node:readline';
const me = process.argv[2];
const send = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize')
    send({ id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {}, resources: { subscribe: true } }, serverInfo: { name: me, version: '1' } } });
  else if (m.method === 'tools/list') send({ id: m.id, result: { tools: [{ name: 'poke', inputSchema: { type: 'object' } }] } });
  else if (m.method === 'resources/list') send({ id: m.id, result: { resources: me === 'y' ? [{ uri: 'docs://y/readme', name: 'readme' }] : [] } });
  else if (m.method === 'tools/call') {
    send({ method: 'notifications/resources/updated', params: { uri: 'docs://y/readme', title: 'announced by ' + me } });
    setTimeout(() => send({ id: m.id, result: { content: [{ type: 'text', text: 'poked' }] } }), 100);
  } else if (m.id !== undefined && m.method) send({ id: m.id, result: {} });
});
`;

describe('review 18: resource updates announced by another backend', { timeout: 60_000 }, () => {
  let dir: string;
  let proc: ChildProcess | undefined;
  let url: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-review18-updates-'));
    const backend = join(dir, 'backend.mjs');
    writeFileSync(backend, BACKEND);
    const config = join(dir, 'mcpeg.json');
    const b = (name: string, mode: string) => ({ type: 'mcp', command: process.execPath, args: [backend, name], session_mode: mode });
    writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends: { y: b('y', 'per_client'), x: b('x', 'per_client'), xs: b('x', 'shared') } }));
    const g = await spawnGateway(config);
    proc = g.proc;
    url = g.url;
  });
  after(() => {
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('reach the client only from the backend serving the URI', async () => {
    const client = new Client({ name: 'subscriber', version: '1' }, { capabilities: {} });
    const heard: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      heard.push(n.params.uri);
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    try {
      await client.subscribeResource({ uri: 'docs://y/readme' });
      // Each backend's tool announces an update of y's resource (the SDK client keeps only the URI of a notification).
      const after = async (tool: string) => {
        const before = heard.length;
        await client.callTool({ name: tool, arguments: {} });
        await new Promise((r) => setTimeout(r, 300));
        return heard.length - before;
      };
      // x on its own session with this client, then x on the connection it shares with every client: not heard.
      assert.equal(await after('x__poke'), 0, "backend x announced an update of y's resource on its per-client session, and the client heard it");
      assert.equal(await after('xs__poke'), 0, "backend xs announced an update of y's resource on its shared connection, and the client heard it");
      // y, whose resource it is: heard.
      assert.equal(await after('y__poke'), 1);
    } finally {
      await client.close();
    }
  });
});
