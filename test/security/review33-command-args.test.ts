/**
 * Review 33, as an attacker holding an MCP client: a command tool argument holding a NUL,
 * or one longer than execve takes (E2BIG, 128 KiB per argument on Linux). spawn() failed
 * and the call was reported as MCPEG_ERR_PROGRAM_NOT_FOUND, blaming the config. Both are
 * now MCPEG_ERR_BAD_ARGUMENT, and no program runs. And an array given for a property
 * input_schema leaves untyped spread into one program argument per item, so a tool written
 * as the docs advise (`grep -e {pattern}`) took the client's options (`["x", "--include=..."]`):
 * now only a property declared an array spreads. Real gateway, SDK client, a real program (printf).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

describe('review33: command arguments no program can receive', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  before(async () => {
    gw = await startGateway({
      backends: {
        cmd: {
          type: 'command',
          tools: {
            echo: {
              command: 'printf',
              args: ['[%s]', '{text}'],
              output: 'text',
              input_schema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
            },
            // As the docs advise against option injection, with the property left untyped.
            grep: {
              command: 'printf',
              args: ['[%s]', '-e', '{pattern}'],
              output: 'text',
              input_schema: { type: 'object', properties: { pattern: { description: 'what to look for' } }, required: ['pattern'] },
            },
            many: {
              command: 'printf',
              args: ['[%s]', '{files}'],
              output: 'text',
              input_schema: { type: 'object', properties: { files: { type: 'array', items: { type: 'string' } } }, required: ['files'] },
            },
          },
        },
      },
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
  });

  it('is refused as the argument’s fault, not reported as a missing program', async () => {
    const r = await client.callTool({ name: 'cmd__echo', arguments: { text: 'a\u0000--b' } });
    assert.equal(r.isError, true, JSON.stringify(r));
    const code = (r._meta as Record<string, { code?: string }> | undefined)?.['mcpeg/error']?.code;
    assert.equal(code, 'MCPEG_ERR_BAD_ARGUMENT', JSON.stringify(r));
    assert.match(textOf(r), /echo: program argument 2 would contain a NUL character/);
  });

  it('an argument too long for execve (E2BIG) is the argument’s fault too', async () => {
    const r = await client.callTool({ name: 'cmd__echo', arguments: { text: 'x'.repeat(200_000) } });
    assert.equal(r.isError, true, JSON.stringify(r).slice(0, 300));
    const code = (r._meta as Record<string, { code?: string }> | undefined)?.['mcpeg/error']?.code;
    assert.equal(code, 'MCPEG_ERR_BAD_ARGUMENT', textOf(r).slice(0, 300));
    assert.match(textOf(r), /echo: the program arguments are too long for the system \(E2BIG\)/);
  });

  it('other text still arrives as one argument', async () => {
    const r = await client.callTool({ name: 'cmd__echo', arguments: { text: 'a\nb --x' } });
    assert.equal(r.isError, undefined, textOf(r));
    assert.equal(textOf(r), '[a\nb --x]');
  });

  it('an array for an untyped property is one argument, not options; a declared array still spreads', async () => {
    const r = await client.callTool({ name: 'cmd__grep', arguments: { pattern: ['x', '--include=/etc/passwd'] } });
    assert.equal(r.isError, undefined, textOf(r));
    // printf repeats its format for each argument: `-e` and the pattern, as two, not three.
    assert.equal(textOf(r), '[-e][["x","--include=/etc/passwd"]]');
    const many = await client.callTool({ name: 'cmd__many', arguments: { files: ['a.txt', 'b.txt'] } });
    assert.equal(textOf(many), '[a.txt][b.txt]');
  });
});
