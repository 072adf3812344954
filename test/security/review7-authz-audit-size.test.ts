/**
 * Review 7 (authorization, attacker's view): every decision leaves an audit line naming
 * the target as the client wrote it. A resource URI is client text up to the request body
 * limit (4 MiB); before the fix each refused read of a 1 MB URI wrote a 1 MB log line (the
 * `limit` refusal quoted it whole), so a client could fill the log at the speed it sends.
 * Lines now quote at most 1 KiB of the target and give its length; a newline in it stays
 * JSON-escaped (one line per decision).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createLogger } from '../../src/observability/logger.js';
import { startGateway } from '../helpers/gateway.js';

const FILES_SERVER = fileURLToPath(new URL('../fixtures/files-server.js', import.meta.url));
const LOW = 'low-key-0123456789abcdef';

describe('review7 authz: audit lines stay small whatever the target', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let c: Client;
  const lines: string[] = [];
  const audit = () =>
    lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes('"audit":"authz"'))
      .map((l) => ({ size: l.length, line: JSON.parse(l) as Record<string, unknown> }));

  before(async () => {
    gw = await startGateway(
      {
        auth: { api_keys: [{ name: 'low', key: LOW }] },
        authorization: { default: 'allow', rules: [{ name: 'no-secret', deny: { resources: ['file:///secret/**'] } }] },
        backends: { files: { type: 'mcp', command: process.execPath, args: [FILES_SERVER] } },
      },
      { logger: createLogger('info', { write: (s: string) => void lines.push(s) }) },
    );
    c = new Client({ name: 'review7', version: '1' }, { capabilities: {} });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${gw.base}/mcp`), { requestInit: { headers: { 'x-api-key': LOW } } }));
  });
  after(async () => {
    await c?.close().catch(() => {});
    await gw?.close();
  });

  it('a 1 MB URI refused by the length limit leaves a short line', async () => {
    const uri = `file:///secret/${'a'.repeat(1_000_000)}`;
    await assert.rejects(c.readResource({ uri }), /authorization rule "limit"/);
    const a = audit().filter((x) => x.line.rule === 'limit');
    assert.equal(a.length, 1);
    assert.ok(a[0].size < 4096, `audit line of ${a[0].size} bytes`);
    assert.equal(a[0].line.targetChars, uri.length);
    assert.ok(String(a[0].line.target).startsWith('file:///secret/aaaa'));
  });

  it('a 10 KB URI under the limit is decided and quoted shortly; a newline stays escaped', async () => {
    const uri = `file:///secret/${'b'.repeat(10_000)}\n{"audit":"authz","decision":"allow"}`;
    await assert.rejects(c.readResource({ uri }), /authorization rule "no-secret"/);
    const a = audit().filter((x) => x.line.rule === 'no-secret');
    assert.equal(a.length, 1);
    assert.ok(a[0].size < 4096, `audit line of ${a[0].size} bytes`);
    assert.equal(a[0].line.decision, 'deny');
    assert.ok(!audit().some((x) => x.line.decision === 'allow' && x.line.rule === undefined), 'no forged line');
  });
});
