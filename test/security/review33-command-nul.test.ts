/**
 * Review 33, as an attacker holding an MCP client: a command tool argument holding a NUL.
 * execve takes C strings, so spawn() threw and the call was reported as
 * MCPEG_ERR_PROGRAM_NOT_FOUND ("program ... not found"), blaming the config. It is now
 * MCPEG_ERR_BAD_ARGUMENT naming the argument, and no program runs. Real gateway, SDK
 * client, a real program (printf).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

describe('review33: a NUL in a command argument', () => {
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

  it('other text still arrives as one argument', async () => {
    const r = await client.callTool({ name: 'cmd__echo', arguments: { text: 'a\nb --x' } });
    assert.equal(r.isError, undefined, textOf(r));
    assert.equal(textOf(r), '[a\nb --x]');
  });
});
