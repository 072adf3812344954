/**
 * The editor bounds each write (`max_write_bytes`), not their sum: a client writing files
 * in a loop filled the disk the gateway's log, its data directory and every other program
 * on the host share (on a 64 MiB tmpfs in a trial: every write of 4 MiB went through until
 * the filesystem was full, then ENOSPC for the gateway's own files too). Now each write
 * first asks the filesystem (statfs) and is refused with NO_SPACE when it would leave less
 * than `min_free_bytes` free (default: 5% of the filesystem, at most 1 GiB) or fewer than
 * 10,000 inodes. Here the floor is set 96 MiB under what the disk has free, and the client
 * writes 16 MiB files until refused. Through /mcp with the SDK client.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'mcpeg-sec-disk-'));
const ws = join(dir, 'ws');
mkdirSync(ws);
after(() => rmSync(dir, { recursive: true, force: true }));

async function write(c: Client, path: string, content: string) {
  const r = await c.callTool({ name: 'editor__write_file', arguments: { path, content } });
  return { isError: r.isError === true, text: textOf(r) };
}

describe('editor: a loop of writes does not fill the disk', () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  let client: Client | undefined;
  after(async () => {
    await client?.close();
    await gw?.close();
  });

  it('writes are refused with NO_SPACE before the disk passes min_free_bytes; deleting makes room again', async () => {
    const s = await statfs(ws);
    const floor = s.bavail * s.bsize - 96 * MiB;
    assert.ok(floor > 0, 'the disk has more than 96 MiB free');
    gw = await startGateway({
      server: { max_body_bytes: 32 * MiB },
      paths: { data: join(dir, 'data'), workspace: ws },
      plugins: [{ name: 'editor', config: { min_free_bytes: floor, max_write_bytes: 16 * MiB } }],
    });
    client = await connectClient(gw.url);
    const big = 'x'.repeat(16 * MiB);
    const written: string[] = [];
    let refusal: string | undefined;
    for (let i = 0; i < 12 && !refusal; i++) {
      const r = await write(client, `big-${i}.txt`, big);
      if (r.isError) refusal = r.text;
      else written.push(`big-${i}.txt`);
    }
    // 96 MiB of room above the floor: about six 16 MiB files, whatever else the machine writes meanwhile.
    assert.ok(refusal, `twelve writes of 16 MiB (192 MiB) all went through, past a floor 96 MiB under the free space`);
    assert.match(refusal, /NO_SPACE/);
    assert.match(refusal, /min_free_bytes/);
    assert.match(refusal, /"big-\d+\.txt"/, 'the refusal names the path as the client gave it');
    assert.ok(written.length >= 1 && written.length <= 8, `${written.length} files of 16 MiB were written before the refusal`);
    // Judged by what the gateway wrote (above), not by the disk's free bytes afterwards: other tests write to the same disk.
    // The refused write left nothing behind; deleting what was written makes room again.
    for (const f of written) assert.notEqual((await client.callTool({ name: 'editor__delete_file', arguments: { path: f, confirm: true } })).isError, true);
    const again = await write(client, 'again.txt', big);
    assert.equal(again.isError, false, again.text);
  });
});
