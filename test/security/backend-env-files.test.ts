/**
 * Attack: a client writes, through the editor, a file a backend's `env` makes its program
 * load. A stdio MCP backend started with `NODE_OPTIONS="--require <workspace>/hook.cjs"`
 * (the operator's hook, not there yet, so the backend keeps failing and being restarted)
 * loads that file before its own code; the program and its arguments were protected paths,
 * its environment's values were not (review 23 fixed the same for a kubeconfig's exec
 * plugin and left this one). A client wrote the hook and the gateway's next restart of the
 * backend ran it (code execution as the gateway's user). Now the words of a backend's `env`
 * values (but PATH's) are protected as its arguments are: the write is refused and nothing
 * runs. Performed against a real `mcpeg gateway` process.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { spawnEditorGateway, type EditorGateway } from '../helpers/editor-gateway.js';
import { MINIMAL_STDIO_BACKEND } from '../helpers/minimal-stdio-backend.js';

describe("a backend's env naming a file in an editor root (NODE_OPTIONS=--require)", () => {
  let dir: string;
  let ws: string;
  let gw: EditorGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-env-files-'));
    ws = join(dir, 'workspace');
    mkdirSync(join(ws, 'hooks'), { recursive: true });
    writeFileSync(join(dir, 'backend.mjs'), MINIMAL_STDIO_BACKEND);
    const file = join(dir, 'mcpeg.yaml');
    writeFileSync(
      file,
      stringify({
        server: { host: '127.0.0.1', port: 0 },
        paths: { data: join(dir, 'data'), workspace: ws },
        plugins: [{ name: 'editor' }],
        backends: {
          b: {
            type: 'mcp',
            command: process.execPath,
            args: [join(dir, 'backend.mjs')],
            env: { NODE_OPTIONS: `--require ${join(ws, 'hooks', 'trace.cjs')}` },
            restart: { initial_delay: '200ms', max_delay: '400ms' },
          },
        },
      }),
    );
    gw = await spawnEditorGateway(file);
  });
  after(async () => {
    await gw?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the file the env names cannot be written, and nothing runs', async () => {
    const marker = join(dir, 'ran');
    const r = await gw.call('write_file', { path: 'hooks/trace.cjs', content: `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');` });
    assert.equal(r.isError, true, `the write was taken: ${r.text}`);
    assert.match(r.text, /protect/i);
    // The backend is restarted every 200-400 ms while its hook is missing: give it several tries.
    const until = Date.now() + 4000;
    while (Date.now() < until && !existsSync(marker)) await new Promise((res) => setTimeout(res, 100));
    assert.equal(existsSync(marker), false, 'the backend loaded the hook a client wrote');
  });

  it('files beside it stay the editor’s', async () => {
    const r = await gw.call('write_file', { path: 'hooks/notes.txt', content: 'mine' });
    assert.equal(r.isError, false, r.text);
  });
});
