/** `mcpeg stdio`: the gateway as a stdio server, driven by the SDK client over stdio. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { CLI, EVERYTHING, startEverythingHttp, textOf } from '../helpers/gateway.js';

describe('mcpeg stdio', () => {
  let remote: Awaited<ReturnType<typeof startEverythingHttp>>;
  let client: Client;
  let stderr = '';

  before(async () => {
    remote = await startEverythingHttp();
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-stdio-'));
    const config = join(dir, 'mcpeg.yaml');
    writeFileSync(
      config,
      [
        'backends:',
        '  everything:',
        '    type: mcp',
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: [${JSON.stringify(EVERYTHING)}, "stdio"]`,
        '  remote:',
        '    type: mcp',
        `    url: ${remote.url}`,
      ].join('\n'),
    );
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'stdio', '--config', config], stderr: 'pipe' });
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    client = new Client({ name: 'stdio-test', version: '1' }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', content: { type: 'text', text: 'from stdio client' }, model: 'm' }));
    await client.connect(transport);
  });

  after(async () => {
    await client?.close();
    await remote?.stop();
  });

  it('lists and calls tools of both backends over stdio', async () => {
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'everything__echo'));
    assert.ok(tools.some((t) => t.name === 'remote__echo'));
    assert.equal(textOf(await client.callTool({ name: 'remote__echo', arguments: { message: 'hi' } })), 'Echo: hi');
    assert.equal(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: 'yo' } })), 'Echo: yo');
  });

  it('relays sampling to the stdio client', async () => {
    const r = await client.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: 'x', maxTokens: 3 } });
    assert.match(textOf(r), /from stdio client/);
  });

  it('logs to stderr only: stdout carried nothing but protocol', () => {
    // Any non-JSON line on stdout would have broken the SDK client's parser above.
    assert.match(stderr, /"msg":"backend up"/);
  });
});
