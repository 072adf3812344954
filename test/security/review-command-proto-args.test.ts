/**
 * Review of issue #14 ("every lookup keyed by client input is own-property only"), as an
 * attacker: a command tool filled its argument templates with `args[ref]`, so an absent
 * argument named like an Object.prototype member (`constructor`, `toString`, `valueOf`)
 * was read from the prototype: the program got "function Object() { [native code] }" as
 * an argument, and an `{if: constructor}` flag counted as set. The REST backend and Ajv
 * were fixed for the same class; command tools now read own properties only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

describe('review: command tools read only the arguments the client sent', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  before(async () => {
    gw = await startGateway({
      backends: {
        cars: {
          type: 'command',
          tools: {
            team: {
              command: 'printf',
              args: ['[%s]', 'x', '{constructor}', { if: 'valueOf', then: ['--verbose'] }],
              input_schema: { type: 'object', properties: { constructor: { type: 'string' }, valueOf: { type: 'boolean' } } },
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

  it('absent "constructor" and "valueOf" arguments add nothing to the command line', async () => {
    const r = await client.callTool({ name: 'cars__team', arguments: {} });
    assert.equal(r.isError, undefined, textOf(r));
    assert.equal(textOf(r), '[x]');
  });

  it('present ones are used as sent', async () => {
    const r = await client.callTool({ name: 'cars__team', arguments: { constructor: 'McLaren', valueOf: true } });
    assert.equal(textOf(r), '[x][McLaren][--verbose]');
  });
});
