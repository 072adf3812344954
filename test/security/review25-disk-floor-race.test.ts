/**
 * Attack on the editor's `min_free_bytes` (5461dc5): statfs before each write, and nothing
 * else. (1) Writes sent together each asked statfs before any of them had written: each saw
 * the same room and all went through, the floor passed by as many writes as the client runs
 * at once (128 per session by default, sessions without number). (2) `create_dirs` asked once,
 * of the root, then made every directory of the path: one call of a path 600 directories deep
 * took ~2.4 MiB of a disk with 1 MiB above the floor (and a directory on another mount under
 * the root was never asked about). Now the writes under way count until statfs shows them,
 * and each directory asks its disk before it is made. Performed against a real
 * `mcpeg gateway` process with an SDK client.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { spawnEditorGateway, type EditorGateway } from '../helpers/editor-gateway.js';

const MiB = 1024 * 1024;
const TMPFS_MAGIC = 0x01021994;

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** A gateway whose editor keeps `floor` bytes free, serving `ws`. */
async function gatewayWithFloor(dir: string, ws: string, floor: number, name: string): Promise<EditorGateway> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      server: { host: '127.0.0.1', port: 0, max_body_bytes: 8 * MiB },
      paths: { data: join(dir, `data-${name}`), workspace: ws },
      plugins: [{ name: 'editor', config: { min_free_bytes: floor, max_write_bytes: 4 * MiB } }],
    }),
  );
  return spawnEditorGateway(file);
}

describe('editor min_free_bytes: writes under way, and directories made', () => {
  let dir: string;
  let gw: EditorGateway | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-r25-floor-'));
  });
  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('20 writes of 4 MiB sent together with room for 10: the floor holds', async () => {
    const ws = join(dir, 'ws-race');
    mkdirSync(ws);
    // The floor sits 40 MiB under what is free now: room for ten of the writes.
    const floor = (await freeBytes(ws)) - 40 * MiB;
    assert.ok(floor > 0, 'the disk has more than 40 MiB free');
    gw = await gatewayWithFloor(dir, ws, floor, 'race');
    const content = 'x'.repeat(4 * MiB);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => gw!.call('write_file', { path: `f-${i}.txt`, content })));
    const written = results.filter((r) => !r.isError).length;
    const refused = results.filter((r) => r.isError);
    for (const r of refused) assert.match(r.text, /NO_SPACE/);
    // Ten fit; what others on the machine write meanwhile only makes fewer fit.
    assert.ok(written <= 10, `${written} of 20 writes of 4 MiB went through with room for 10 above the floor`);
    assert.ok(written >= 1, 'some writes went through');
    // Not the disk's free bytes afterwards: other tests write to the same disk meanwhile (a CI run saw it go under
    // by their writes). What the gateway wrote is what it is answerable for.
    await gw.close();
    gw = undefined;
  });

  it('create_dirs of a path 600 directories deep with 1 MiB above the floor: directories stop at the floor', async (t) => {
    const ws = join(dir, 'ws-dirs');
    mkdirSync(ws);
    // On tmpfs a directory takes no block: nothing to measure.
    if ((await statfs(ws)).type === TMPFS_MAGIC) return t.skip('directories take no blocks on tmpfs');
    const floor = (await freeBytes(ws)) - 1 * MiB;
    gw = await gatewayWithFloor(dir, ws, floor, 'dirs');
    const deep = `${Array.from({ length: 600 }, () => 'd').join('/')}/f.txt`;
    const r = await gw.call('create_file', { path: deep, content: '', create_dirs: true });
    assert.equal(r.isError, true, 'the file was made under 600 new directories');
    assert.match(r.text, /NO_SPACE/);
    let depth = 0;
    for (let p = join(ws, 'd'); existsSync(p); p = join(p, 'd')) depth++;
    // Each directory takes a block (4 KiB on ext4; nothing on tmpfs): 1 MiB holds ~256 of them. Counted by the
    // directories the gateway made, not by the disk's free bytes afterwards: other tests write to the same disk
    // meanwhile, which only makes fewer directories fit (a CI run saw the disk 4 blocks under by their writes).
    const block = (await statfs(ws)).bsize;
    assert.ok(depth < 600, `all ${depth} directories were made past the floor`);
    assert.ok(depth <= MiB / block + 1, `${depth} directories of ${block} bytes were made with ${MiB} bytes above the floor`);
  });
});
