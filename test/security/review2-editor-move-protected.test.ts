/**
 * Review 2, protected paths and the deny list against directory moves. A script a backend
 * runs is protected even before it exists ("a client could create it"), and writing it, or
 * moving a file onto it, is refused. Moving a DIRECTORY checked only the source side: a
 * client could write `evil/run.js`, move `evil` to `tools`, and so create `tools/run.js` —
 * the script the gateway runs at its next call (code execution). Likewise a file under a
 * moved directory could land where an anchored deny pattern applies. A directory move must
 * check every entry at the path it would get.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r2-move-')));
const workspace = join(dir, 'workspace');
const pwned = join(dir, 'PWNED');

describe('review2: a directory move cannot create a protected or denied file', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await client.callTool({ name, arguments: args });
    return { text: textOf(r), isError: r.isError === true };
  };

  before(async () => {
    mkdirSync(workspace, { recursive: true });
    gw = await startGateway({
      paths: { data: join(dir, 'data'), workspace },
      // The script does not exist yet; it is protected all the same.
      backends: { cmd: { type: 'command', tools: { run: { command: process.execPath, args: [join(workspace, 'tools', 'run.js')] } } } },
      plugins: [{ name: 'editor', config: { extra_deny: ['/config/*.yaml'] } }],
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writing the missing script directly is refused (the baseline)', async () => {
    const r = await call('editor__write_file', { path: 'tools/run.js', content: '1', create_dirs: true });
    assert.match(r.text, /\(PATH_PROTECTED\)/);
  });

  it('moving a directory holding run.js to tools/ is refused, and the script never runs', async () => {
    const payload = `require('fs').writeFileSync(${JSON.stringify(pwned)}, 'x')\n`;
    assert.equal((await call('editor__write_file', { path: 'evil/run.js', content: payload, create_dirs: true })).isError, false);
    const r = await call('editor__move_file', { from: 'evil', to: 'tools' });
    await call('cmd__run');
    assert.equal(existsSync(pwned), false, 'the client-written script ran');
    assert.equal(existsSync(join(workspace, 'tools', 'run.js')), false, `the protected script was created: ${r.text}`);
    assert.equal(r.isError, true, r.text);
    assert.match(r.text, /\(PATH_PROTECTED\)/);
    // Nested one level deeper, and through create_dirs.
    assert.equal((await call('editor__write_file', { path: 'deep/tools/run.js', content: payload, create_dirs: true })).isError, false);
    const nested = await call('editor__move_file', { from: 'deep', to: 'x' });
    assert.equal(nested.isError, false, nested.text);
    assert.match((await call('editor__move_file', { from: 'x/tools', to: 'tools' })).text, /\(PATH_PROTECTED\)/);
    assert.equal(existsSync(join(workspace, 'tools', 'run.js')), false);
  });

  it('moving a directory so that a file lands under an anchored deny pattern is refused', async () => {
    assert.equal((await call('editor__write_file', { path: 'stage/app.yaml', content: 'a: 1\n', create_dirs: true })).isError, false);
    const r = await call('editor__move_file', { from: 'stage', to: 'config' });
    assert.equal(existsSync(join(workspace, 'config', 'app.yaml')), false, `a denied file was created: ${r.text}`);
    assert.match(r.text, /\(PATH_DENIED\)/);
  });

  it('ordinary directory moves still work', async () => {
    assert.equal((await call('editor__write_file', { path: 'src/a.ts', content: 'a\n', create_dirs: true })).isError, false);
    const r = await call('editor__move_file', { from: 'src', to: 'lib/src', create_dirs: true });
    assert.equal(r.isError, false, r.text);
    assert.equal(existsSync(join(workspace, 'lib', 'src', 'a.ts')), true);
  });
});
