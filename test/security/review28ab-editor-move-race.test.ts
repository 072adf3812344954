/**
 * Review 28ab: moving a directory checks every entry under it (at its own path and at the
 * path it lands at) before the rename, and since review 27a that check shares the event
 * loop for up to 10 s. A file written into the directory after the check had read it was
 * moved along unchecked: a client made `evil/` of 600 files under 3,500-character paths
 * (each costs the deny list's match, so each pass of the check ran ~2 s), asked to move
 * `evil` to `tools`, and while the second pass (the names it lands at) went on wrote
 * `evil/run.js` (not protected at that path). The move then
 * created `tools/run.js`, the protected script the gateway runs at its next call: the
 * client's code ran (PWNED). Now a write under a directory being moved or deleted is
 * refused (PATH_CHANGED, try again), as is a move or delete of a directory a write is
 * under way in; afterwards the same write succeeds.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r28ab-race-')));
const workspace = join(dir, 'workspace');
const pwned = join(dir, 'PWNED');
const DEEP = Array.from({ length: 14 }, (_, i) => String(i).padEnd(250, 'd')).join('/');
const FILES = 600;

describe('review 28ab: nothing is written into a directory between its check and its move', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await client.callTool({ name, arguments: args });
    return { text: textOf(r), isError: r.isError === true };
  };

  before(async () => {
    mkdirSync(join(workspace, 'evil', DEEP), { recursive: true });
    mkdirSync(join(workspace, 'doomed', DEEP), { recursive: true });
    for (let i = 0; i < FILES; i++) {
      writeFileSync(join(workspace, 'evil', DEEP, String(i).padStart(200, 'f')), '');
      writeFileSync(join(workspace, 'doomed', DEEP, String(i).padStart(200, 'f')), '');
    }
    gw = await startGateway({
      paths: { data: join(dir, 'data'), workspace },
      // The script does not exist yet; it is protected all the same.
      backends: { cmd: { type: 'command', tools: { run: { command: process.execPath, args: [join(workspace, 'tools', 'run.js')] } } } },
      plugins: [{ name: 'editor', config: {} }],
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a file written into a directory while its move is checked does not land at a protected name', async () => {
    const payload = `require('fs').writeFileSync(${JSON.stringify(pwned)}, 'x')\n`;
    // The check runs twice: `evil/...` as it is, then as it would land (`tools/...`). A write is to come after the
    // second has read `evil/`: a move to a denied name is refused after the first, which times it.
    let pass = 0;
    for (let i = 0; i < 2; i++) {
      const probe = Date.now();
      assert.match((await call('editor__move_file', { from: 'evil', to: '.env' })).text, /\(PATH_DENIED\)/);
      pass = Date.now() - probe;
    }
    const started = Date.now();
    let movedAfter = 0;
    const moving = call('editor__move_file', { from: 'evil', to: 'tools' }).finally(() => {
      movedAfter = Date.now() - started;
    });
    await sleep(pass * 1.3);
    const wrote = await call('editor__write_file', { path: 'evil/run.js', content: payload });
    const wroteAfter = Date.now() - started;
    const moved = await moving;
    await call('cmd__run');
    assert.equal(existsSync(pwned), false, 'the client-written script ran');
    assert.equal(existsSync(join(workspace, 'tools', 'run.js')), false, `the protected script was created: ${wrote.text} / ${moved.text}`);
    // The race was real: the write was answered while the move was still being checked.
    assert.ok(wroteAfter < movedAfter, `write answered at ${wroteAfter} ms, the move at ${movedAfter} ms`);
    assert.equal(moved.isError, false, moved.text);
    assert.equal(wrote.isError, true, wrote.text);
    assert.match(wrote.text, /\(PATH_CHANGED\)/);
    assert.equal(existsSync(join(workspace, 'tools', DEEP, '0'.padStart(200, 'f'))), true);
  });

  it('a delete under way refuses writes into its tree; the same write succeeds afterwards', async () => {
    const deleting = call('editor__delete_file', { path: 'doomed', recursive: true, confirm: true });
    await sleep(300);
    const wrote = await call('editor__write_file', { path: `doomed/${DEEP}/late`, content: 'x' });
    const deleted = await deleting;
    assert.equal(deleted.isError, false, deleted.text);
    assert.match(wrote.text, /\(PATH_CHANGED\)/);
    assert.equal(existsSync(join(workspace, 'doomed')), false);
    const again = await call('editor__write_file', { path: 'evil/run.js', content: 'ok\n', create_dirs: true });
    assert.equal(again.isError, false, again.text);
  });
});
