/**
 * Review of issue #14 item 2, as an attacker with an admin key: a command tool's
 * input_schema is what stops a client's value from becoming options of the program
 * (docs/backends.md: "constrain the value in input_schema (pattern)"), and a whole
 * placeholder given an array spreads into several arguments. The admin API compared a
 * command tool's program, args, stdin, env and cwd with the running ones, but not its
 * input_schema: loosening it (or copying the tool under another name with a loose one)
 * was not privileged, and a client could then make the allowed program start any other
 * (`find ... -exec /any/program`). The input_schema of a command tool now counts as part
 * of what decides what runs.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient } from '../helpers/gateway.js';
import { startAdminGateway, type AdminGateway } from '../helpers/admin.js';

const FIND = {
  description: 'Files of the workspace whose name matches a glob',
  command: '/usr/bin/find',
  args: ['.', '-maxdepth', '1', '-name', '{pattern}'],
  input_schema: { type: 'object', properties: { pattern: { type: 'string', pattern: '^[A-Za-z0-9*.]{1,32}$' } }, required: ['pattern'] },
};
const LOOSE = { type: 'object', properties: { pattern: {} }, required: ['pattern'] };

describe('review: an admin key cannot loosen what a command tool lets clients pass to its program', { skip: !existsSync('/usr/bin/find') && 'needs /usr/bin/find' }, () => {
  let g: AdminGateway;
  let client: Client;
  before(async () => {
    g = await startAdminGateway({ backends: { files: { type: 'command', tools: { find: FIND } } } });
    client = await connectClient(g.mcpUrl);
  });
  after(async () => {
    await client?.close();
    await g?.close();
  });

  const pwned = () => join(g.dir, 'pwned');
  const spread = () => ['*', '-exec', '/usr/bin/touch', pwned(), ';'];

  it("the file's schema refuses the spread: the program gets one argument", async () => {
    const r = await client.callTool({ name: 'files__find', arguments: { pattern: spread() } }).catch((err: Error) => ({ isError: true, message: err.message }));
    assert.ok((r as { isError?: boolean }).isError, JSON.stringify(r));
    assert.equal(existsSync(pwned()), false);
  });

  it('PUT /admin/config loosening the input_schema of the tool: 403, and the program still gets only what the file allowed', async () => {
    const cfg = (await g.admin('GET', '/admin/config')).body.config;
    cfg.backends.files.tools.find.input_schema = LOOSE;
    const r = await g.admin('PUT', '/admin/config', cfg);
    if (r.status === 200) await client.callTool({ name: 'files__find', arguments: { pattern: spread() } }).catch(() => undefined);
    assert.equal(existsSync(pwned()), false, 'after the admin change, a client made find start /usr/bin/touch');
    assert.equal(r.status, 403, `loosening the schema was accepted: ${r.text}`);
    assert.equal(r.body.error.code, 'MCPEG_ERR_ADMIN_FORBIDDEN');
    assert.match(r.body.error.message, /backends\.files\.tools\.find/);
  });

  it('PUT /admin/config adding a copy of the tool with a loose schema: 403', async () => {
    const cfg = (await g.admin('GET', '/admin/config')).body.config;
    cfg.backends.files.tools.find2 = { ...cfg.backends.files.tools.find, input_schema: LOOSE };
    const r = await g.admin('PUT', '/admin/config', cfg);
    assert.equal(r.status, 403, `the loose copy was accepted: ${r.text}`);
    assert.match(r.body.error.message, /backends\.files\.tools\.find2/);
  });

  it('a change that keeps the schema (a new description) is still allowed', async () => {
    const cfg = (await g.admin('GET', '/admin/config')).body.config;
    cfg.backends.files.tools.find.description = 'Find files';
    const r = await g.admin('PUT', '/admin/config', cfg);
    assert.equal(r.status, 200, r.text);
  });
});
