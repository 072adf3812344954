import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryStore, MemoryStoreError, type MemoryStoreLimits, type MemoryStoreOptions } from '../../../../src/plugins/memory/store.js';
import { LOG_FILE, SNAPSHOT_FILE, SNAPSHOT_TMP } from '../../../../src/plugins/memory/store-files.js';

const STORE_MODULE = new URL('../../../../src/plugins/memory/store.js', import.meta.url).href;
const ROOT = mkdtempSync(join(tmpdir(), 'mcpeg-memstore-'));
after(() => rmSync(ROOT, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(ROOT, `s${++dirs}`);
const LIMITS: MemoryStoreLimits = { maxKeys: 100_000, maxValueBytes: 64 * 1024 };
const openStore = (dir: string, opts: MemoryStoreOptions = {}, limits = LIMITS) => MemoryStore.open(dir, limits, opts);

const rejectsWith = (p: Promise<unknown>, code: string, message?: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MemoryStoreError, String(e));
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  });

/** Every live key with its value, for comparing a store against a model. */
async function dump(store: MemoryStore): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const { key } of store.list()) out[key] = (await store.get(key))!.value;
  return out;
}

/** Runs `fn` with FileHandle methods wrapped; the store has no other seam, so this is where fsync is observed. */
async function withFileHooks(hook: (method: string) => Promise<void> | void, fn: () => Promise<void>): Promise<void> {
  const h = await open(ROOT, 'r');
  const proto = Object.getPrototypeOf(h) as Record<string, (...a: unknown[]) => Promise<unknown>>;
  await h.close();
  const methods = ['write', 'sync', 'datasync', 'truncate', 'close'];
  const originals = methods.map((m) => proto[m]);
  methods.forEach((m, i) => {
    proto[m] = async function (this: unknown, ...args: unknown[]) {
      await hook(m);
      return originals[i].apply(this, args);
    };
  });
  try {
    await fn();
  } finally {
    methods.forEach((m, i) => (proto[m] = originals[i]));
  }
}

describe('MemoryStore: operations', () => {
  it('sets, gets, overwrites, deletes and clears, and all of it survives a reopen', async () => {
    const dir = freshDir();
    let now = 1_000;
    const s = await openStore(dir, { clock: () => now });
    assert.deepEqual(await s.set('a', '1'), { created: true });
    now = 2_000;
    assert.deepEqual(await s.set('a', '2'), { created: false });
    assert.deepEqual(await s.get('a'), { value: '2', createdAt: 1_000, updatedAt: 2_000 });
    const odd = 'line1\nline2\u2028"q"\\ é 😀 {"op":"del"} \ud800';
    await s.set('odd', odd);
    await Promise.all([s.set('x', 'x'), s.set('y', 'y'), s.set('gone', 'g')]);
    assert.equal(await s.delete('gone'), true);
    assert.equal(await s.delete('gone'), false);
    assert.equal(await s.get('gone'), undefined);
    const st = s.stats();
    assert.equal(st.keys, 4);
    assert.equal(st.bytes, 'a2xxyy'.length + 'odd'.length + Buffer.byteLength(odd));
    assert.equal(st.file_bytes, statSync(join(dir, LOG_FILE)).size);
    await s.close();

    const r = await openStore(dir, { clock: () => now });
    assert.deepEqual(await dump(r), { a: '2', odd, x: 'x', y: 'y' });
    assert.deepEqual(await r.get('a'), { value: '2', createdAt: 1_000, updatedAt: 2_000 });
    assert.equal(await r.clear(), 4);
    assert.equal(await r.clear(), 0);
    await r.set('after-clear', '1');
    await r.close();
    assert.deepEqual(await dump(await openStore(dir)), { 'after-clear': '1' });
  });

  it('rejects bad keys, values and ttls with codes, and writes nothing for them', async () => {
    const s = await openStore(freshDir(), {}, { maxKeys: 10, maxValueBytes: 10, maxKeyLength: 8 });
    for (const key of ['', 'new\nline', 'nul\0', 'del\x7f', 'c1\x85', 'lone\ud800']) await rejectsWith(s.set(key, 'v'), 'KEY_INVALID');
    await rejectsWith(s.set('123456789', 'v'), 'KEY_INVALID', /9 characters.*limit is 8/);
    await s.set('😀😀😀😀😀😀😀😀', 'v'); // 8 characters, 16 UTF-16 units
    await rejectsWith(s.get(''), 'KEY_INVALID');
    await rejectsWith(s.set('k', 'x'.repeat(11)), 'VALUE_TOO_LARGE', /11 bytes.*limit is 10 bytes/);
    await rejectsWith(s.set('k', 'é'.repeat(6)), 'VALUE_TOO_LARGE', /12 bytes.*limit is 10/);
    await rejectsWith(s.set('k', 42 as unknown as string), 'VALUE_INVALID');
    for (const ttl of [0, -5, NaN, Infinity]) await rejectsWith(s.set('k', 'v', ttl), 'TTL_INVALID');
    assert.deepEqual(
      s.list().map((i) => i.key),
      ['😀😀😀😀😀😀😀😀'],
    );
    const bytes = s.stats().file_bytes;
    await s.close();
    assert.equal(statSync(join(s.dir, LOG_FILE)).size, bytes);
    await rejectsWith(s.set('k', 'v'), 'STORE_CLOSED');
    await rejectsWith(s.get('k'), 'STORE_CLOSED');
    assert.throws(() => s.list(), /closed/);
    await s.close(); // idempotent
  });

  it('enforces maxKeys, also against a parallel burst, and persists only accepted keys', async () => {
    const dir = freshDir();
    let now = 0;
    const s = await openStore(dir, { clock: () => now }, { maxKeys: 3, maxValueBytes: 100 });
    const results = await Promise.allSettled(['a', 'b', 'c', 'd', 'e'].map((k) => s.set(k, k)));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected'],
    );
    await rejectsWith(s.set('f', 'f'), 'TOO_MANY_KEYS', /limit is 3/);
    await s.set('a', 'overwrite is fine at the limit');
    await s.delete('b');
    await s.set('short', 'lived', 10);
    now = 10; // 'short' expired: its slot is free again
    await s.set('f', 'f');
    await s.close();
    assert.deepEqual(await dump(await openStore(dir)), { a: 'overwrite is fine at the limit', c: 'c', f: 'f' });
  });

  it('enforces maxTotalBytes atomically; deletes, expiry, compaction and a reopen keep the count right', async () => {
    const dir = freshDir();
    let now = 0;
    const limits = { maxKeys: 1000, maxValueBytes: 1000, maxTotalBytes: 100 };
    const s = await openStore(dir, { clock: () => now, compactMinBytes: 1 }, limits);
    // Ten 10-byte entries fit ("k0" + 8 bytes); a burst of 30 lands exactly ten of them.
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => s.set(`k${String.fromCharCode(65 + i)}`, 'v'.repeat(8))));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10);
    for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as MemoryStoreError).code, 'QUOTA_EXCEEDED');
    assert.equal(s.stats().bytes, 100);
    await rejectsWith(s.set('x', ''), 'QUOTA_EXCEEDED', /holds 100 bytes; storing "x" \(1 bytes\) would pass the limit of 100 bytes/);
    await s.set('kA', 'w'.repeat(8)); // same size: replaces, not added
    await s.set('kB', 'w'.repeat(4)); // shrinks
    assert.equal(s.stats().bytes, 96);
    await rejectsWith(s.set('kC', 'w'.repeat(13)), 'QUOTA_EXCEEDED'); // grows by 5: 101
    assert.equal((await s.get('kC'))!.value, 'v'.repeat(8), 'a refused write keeps the old value');
    await s.delete('kD');
    await s.set('ttl', 'x'.repeat(11), 5);
    assert.equal(s.stats().bytes, 100);
    now = 5; // expired: its bytes are free for the next write without waiting for the sweep
    await s.set('kZ', 'z'.repeat(8));
    await s.compact();
    assert.equal(s.stats().bytes, 96);
    await s.close();
    const r = await openStore(dir, { clock: () => now }, limits);
    assert.equal(r.stats().bytes, 96);
    await rejectsWith(r.set('big', 'b'.repeat(2)), 'QUOTA_EXCEEDED');
    await r.set('ok', 'o');
    // A limit lowered below what is stored: the data stays, only growth is refused.
    await r.close();
    const low = await openStore(dir, {}, { ...limits, maxTotalBytes: 50 });
    assert.equal(low.stats().bytes, 99);
    await rejectsWith(low.set('new', 'n'), 'QUOTA_EXCEEDED');
    await low.set('kA', 'a'); // shrinking is allowed
    assert.equal(low.stats().bytes, 92);
    await low.close();
  });

  it('lists by glob, with every other character literal, sorted and limited', async () => {
    const s = await openStore(freshDir());
    const keys = ['user:10', 'user:2', 'user:1', 'admin:1', 'a.b', 'axb', 'a+b', '[x]', 'x', 'x*y', 'xzy', '(a|b)'];
    await Promise.all(keys.map((k) => s.set(k, `v-${k}`)));
    const list = (pattern?: string, limit?: number) => s.list({ pattern, limit }).map((i) => i.key);
    assert.deepEqual(list('user:*'), ['user:1', 'user:10', 'user:2']);
    assert.deepEqual(list('user:?'), ['user:1', 'user:2']);
    assert.deepEqual(list(), [...keys].sort());
    assert.deepEqual(list('*', 2), ['(a|b)', '[x]']);
    assert.deepEqual(list('a.b'), ['a.b']);
    assert.deepEqual(list('a+b'), ['a+b']);
    assert.deepEqual(list('[x]'), ['[x]']);
    assert.deepEqual(list('(a|b)'), ['(a|b)']);
    assert.deepEqual(list('x\\*y'), ['x*y']);
    assert.deepEqual(list('x*y'), ['x*y', 'xzy']);
    assert.deepEqual(list('*:1'), ['admin:1', 'user:1']);
    assert.deepEqual(s.list({ pattern: 'user:1' })[0], { key: 'user:1', updatedAt: s.list({ pattern: 'user:1' })[0].updatedAt, size: 8 });
    await s.set('a'.repeat(200), 'v');
    const t0 = performance.now();
    assert.deepEqual(list('*a*a*a*a*a*a*a*a*a*a*b'), []); // exponential for a backtracking regex
    assert.ok(performance.now() - t0 < 200);
    await s.close();
  });

  it('searches keys and values case-insensitively, key matches first', async () => {
    let now = 0;
    const s = await openStore(freshDir(), { clock: () => now });
    const data: Record<string, string> = {
      note: 'I like APPLE crumble',
      apple: 'red fruit',
      'Apple-pie': 'dessert',
      pineapple: 'tropical',
      zzz: 'nothing',
      'apple-notes': 'apple everywhere',
    };
    for (const [k, v] of Object.entries(data)) await s.set(k, v);
    await s.set('apple-expiring', 'x', 5);
    now = 5;
    const hits = s.search('aPPle', 10);
    assert.deepEqual(
      hits.map((h) => h.key),
      ['apple', 'apple-notes', 'Apple-pie', 'pineapple', 'note'],
    );
    assert.ok(hits[3].score > hits[4].score, 'a key match outranks a value-only match');
    assert.equal(hits[4].value, data.note);
    assert.deepEqual(
      s.search('APPLE', 2).map((h) => h.key),
      ['apple', 'apple-notes'],
    );
    assert.deepEqual(
      s.search('crumble', 10).map((h) => h.key),
      ['note'],
    );
    assert.deepEqual(s.search('absent', 10), []);
    await s.close();
  });
});

describe('MemoryStore: durability', () => {
  it('acknowledges a write only after its fsync, and commits 100 parallel sets with one or two fsyncs', { timeout: 60_000 }, async () => {
    const dir = freshDir();
    const s = await openStore(dir);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let syncs = 0;
    let reached!: () => void;
    const syncing = new Promise<void>((r) => (reached = r));
    await withFileHooks(
      async (m) => {
        if (m !== 'datasync' && m !== 'sync') return;
        syncs++;
        reached();
        await gate;
      },
      async () => {
        let settled = false;
        const first = s.set('first', '1').then(() => (settled = true));
        const ac = new AbortController();
        const timedOut = sleep(5_000, undefined, { signal: ac.signal }).then(
          () => assert.fail('set never reached fsync'),
          () => undefined,
        );
        await Promise.race([syncing, timedOut]);
        ac.abort();
        await sleep(30);
        assert.equal(settled, false, 'set resolved before fsync completed');
        assert.equal(await s.get('first'), undefined, 'an unsynced write is visible');
        release();
        await first;
        syncs = 0;
        const keys = Array.from({ length: 100 }, (_, i) => `p${i}`);
        const res = await Promise.all(keys.map((k) => s.set(k, `value-${k}`)));
        assert.ok(res.every((r) => r.created));
        assert.ok(syncs >= 1 && syncs <= 2, `expected group commit, saw ${syncs} fsyncs for 100 sets`);
        const same = await Promise.all(Array.from({ length: 20 }, (_, i) => s.set('same', String(i))));
        assert.deepEqual(
          same.map((r) => r.created),
          [true, ...Array(19).fill(false)],
        );
      },
    );
    await s.close();
    const r = await openStore(dir);
    assert.equal(r.list({ pattern: 'p*' }).length, 100);
    for (let i = 0; i < 100; i++) assert.equal((await r.get(`p${i}`))?.value, `value-p${i}`);
    assert.equal((await r.get('same'))?.value, '19', 'writes to one key apply in call order');
    await r.close();
  });

  it('tolerates a torn or corrupt last log line and cuts it off; corruption elsewhere names file and line', async () => {
    const dir = freshDir();
    const s = await openStore(dir);
    await s.set('a', 'one');
    await s.set('b', 'two');
    await s.close();
    const log = join(dir, LOG_FILE);
    const good = readFileSync(log);
    appendFileSync(log, '{"op":"set","k":"c","v":"half-writ');
    const r = await openStore(dir);
    assert.deepEqual(await dump(r), { a: 'one', b: 'two' });
    assert.equal(statSync(log).size, good.length, 'the torn tail is truncated');
    await r.set('c', 'three');
    await r.close();
    // A complete last line whose bytes were not all persisted: checksum fails, line dropped.
    writeFileSync(log, readFileSync(log, 'utf8').replace('"v":"three"', '"v":"thrEe"'));
    assert.deepEqual(await dump(await openStore(dir)), { a: 'one', b: 'two' });
    writeFileSync(log, good.toString('utf8').replace('"v":"one"', '"v":"onE"'));
    await rejectsWith(openStore(dir), 'CORRUPT', new RegExp(`${LOG_FILE}:1: checksum mismatch`));
  });

  it('keeps every acknowledged write when the process is SIGKILLed mid-burst (three crashes, compacting)', { timeout: 60_000 }, async () => {
    const dir = freshDir();
    const script = join(ROOT, 'burst.mjs');
    writeFileSync(
      script,
      `
      const [storeUrl, dir, round] = process.argv.slice(2);
      const { MemoryStore } = await import(storeUrl);
      const store = await MemoryStore.open(dir, { maxKeys: 1e6, maxValueBytes: 65536 }, { compactMinBytes: 16384 });
      const expectedValue = ${expectedValue.toString()};
      // writeSync on fd 1, never process.stdout: under backpressure process.stdout queues in memory,
      // and SIGKILL would drop acks the store had already honoured (the parent must see every one).
      const { writeSync } = await import('node:fs');
      const out = (line) => writeSync(1, line + '\\n');
      async function worker(w) {
        for (let i = 0; ; i++) {
          const k = 'r' + round + '-w' + w + '-' + i;
          await store.set(k, expectedValue(k)); out('set ' + k);
          await store.set('hot-' + w, String(i)); out('hot ' + w + ' ' + i);
          if (i % 5 === 4) {
            const d = 'r' + round + '-w' + w + '-' + (i - 2);
            out('delreq ' + d); await store.delete(d); out('del ' + d);
          }
        }
      }
      for (let w = 0; w < 8; w++) void worker(w);
    `,
    );
    for (const [round, killAfter] of [
      [1, 50],
      [2, 700],
      [3, 3000],
    ] as const) {
      const child = spawn(process.execPath, [script, STORE_MODULE, dir, String(round)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      let lines = 0;
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        lines += d.toString().split('\n').length - 1;
        if (lines >= killAfter) child.kill('SIGKILL');
      });
      const [, signal] = await new Promise<[number | null, string | null]>((res) => child.on('close', (c, sig) => res([c, sig])));
      assert.equal(signal, 'SIGKILL', 'the child must die mid-burst, not exit on its own');
      const events = out
        .split('\n')
        .slice(0, -1)
        .map((l) => l.split(' '));
      const acked = new Set(events.filter((e) => e[0] === 'set').map((e) => e[1]));
      const delReq = new Set(events.filter((e) => e[0] === 'delreq').map((e) => e[1]));
      const deleted = new Set(events.filter((e) => e[0] === 'del').map((e) => e[1]));
      assert.ok(acked.size >= killAfter / 3);
      const s = await openStore(dir);
      for (const k of acked) {
        const got = await s.get(k);
        if (deleted.has(k)) assert.equal(got, undefined, `acknowledged delete of ${k} was lost`);
        else if (!delReq.has(k)) assert.equal(got?.value, expectedValue(k), `acknowledged write of ${k} was lost`);
      }
      const lastHot = new Map<string, number>();
      for (const e of events) if (e[0] === 'hot') lastHot.set(e[1], Number(e[2]));
      for (const [w, i] of lastHot) assert.ok([i, i + 1].includes(Number((await s.get(`hot-${w}`))?.value)), `hot-${w} went back`);
      await s.close();
    }
    assert.ok(existsSync(join(dir, SNAPSHOT_FILE)), 'the burst compacted at least once');
  });

  it('on a failed append (EFBIG under ulimit -f) rejects with IO, applies nothing, and leaves the log clean', { timeout: 60_000 }, async () => {
    const dir = freshDir();
    const limit = 64 * 512; // POSIX ulimit -f counts 512-byte blocks; Node ignores SIGXFSZ so write() fails with EFBIG
    const script = join(ROOT, 'efbig.mjs');
    writeFileSync(
      script,
      `
      const [storeUrl, dir, limit] = process.argv.slice(2);
      const { MemoryStore } = await import(storeUrl);
      const store = await MemoryStore.open(dir, { maxKeys: 1000, maxValueBytes: 8192 }, { compactMinBytes: 1 << 30 });
      const res = { ok: [], errors: {} };
      for (let i = 0; Number(limit) - store.stats().file_bytes >= 1500; i++) { await store.set('k' + i, 'x'.repeat(1000)); res.ok.push('k' + i); }
      const attempt = (name, p) => p.then(() => { res.errors[name] = null; }, (e) => { res.errors[name] = { code: e.code, message: e.message }; });
      await attempt('big', store.set('big', 'y'.repeat(4000)));
      res.big = (await store.get('big')) ?? null;
      await attempt('overwrite', store.set('k0', 'z'.repeat(4000)));
      res.k0 = (await store.get('k0')).value.length;
      await attempt('small', store.set('small', 's'.repeat(100)));
      res.fileBytes = store.stats().file_bytes;
      await store.close();
      process.stdout.write(JSON.stringify(res));
    `,
    );
    const run = spawnSync('/bin/sh', ['-c', 'ulimit -f 64 && exec "$0" "$@"', process.execPath, script, STORE_MODULE, dir, String(limit)], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const res = JSON.parse(run.stdout);
    for (const name of ['big', 'overwrite']) {
      assert.equal(res.errors[name]?.code, 'IO');
      assert.match(res.errors[name].message, new RegExp(`${LOG_FILE}.*file size limit.*EFBIG`));
    }
    assert.equal(res.big, null, 'a failed write is not applied');
    assert.equal(res.k0, 1000, 'a failed overwrite keeps the old value');
    assert.equal(res.errors.small, null, 'after a failed append the log was cut back, so a small write fits again');
    assert.equal(statSync(join(dir, LOG_FILE)).size, res.fileBytes);
    const s = await openStore(dir);
    const expected = Object.fromEntries(res.ok.map((k: string) => [k, 'x'.repeat(1000)]));
    assert.deepEqual(await dump(s), { ...expected, small: 's'.repeat(100) });
    await s.close();
  });
});

describe('MemoryStore: expiry', () => {
  it('hides expired keys at once and keeps absolute expiry across a restart', async () => {
    const dir = freshDir();
    let now = 10_000;
    const s = await openStore(dir, { clock: () => now });
    assert.deepEqual(await s.set('t', 'v', 500), { created: true, expiresAt: 10_500 });
    await s.set('t2', 'v', 500);
    await s.set('perm', 'v', 100);
    await s.set('perm', 'v'); // an overwrite without ttl removes the expiry
    await s.set('late', 'v', 5_000);
    now = 10_499;
    assert.equal((await s.get('t'))?.expiresAt, 10_500);
    await s.close();

    const before = await openStore(dir, { clock: () => now }); // restarted before expiry: still there
    assert.deepEqual(
      before.list().map((i) => i.key),
      ['late', 'perm', 't', 't2'],
    );
    await before.close();
    now = 10_500;
    const r = await openStore(dir, { clock: () => now }); // restarted at expiry: gone, not re-armed
    assert.equal(await r.get('t'), undefined);
    assert.deepEqual(
      r.list().map((i) => i.key),
      ['late', 'perm'],
    );
    assert.equal(r.stats().keys, 2);
    assert.ok(r.stats().expired_removed >= 2);
    now = 15_000;
    assert.equal(await r.get('late'), undefined);
    assert.deepEqual(r.search('late', 5), []);
    assert.deepEqual(await r.set('late', 'again'), { created: true }, 'an expired key is set anew');
    await r.close();
  });

  it('sweeps expired entries on a timer that does not keep the process alive', { timeout: 60_000 }, async () => {
    let now = 0;
    const s = await openStore(freshDir(), { clock: () => now, sweepIntervalMs: 5 });
    await Promise.all([s.set('a', '1', 100), s.set('b', '2', 100), s.set('c', '3')]);
    now = 100;
    for (let i = 0; i < 200 && s.stats().expired_removed < 2; i++) await sleep(5);
    assert.equal(s.stats().expired_removed, 2, 'the sweep removed both without any read touching them');
    await s.close();

    const script = join(ROOT, 'no-close.mjs');
    writeFileSync(
      script,
      `const { MemoryStore } = await import(process.argv[2]);
      const s = await MemoryStore.open(process.argv[3], { maxKeys: 10, maxValueBytes: 10 });
      await s.set('k', 'v', 60000);`,
    );
    const run = spawnSync(process.execPath, [script, STORE_MODULE, freshDir()], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(run.signal, null, 'the process did not exit by itself');
    assert.equal(run.status, 0, run.stderr);
  });
});

describe('MemoryStore: compaction', () => {
  it('compacts past the threshold and loses nothing', async () => {
    const dir = freshDir();
    const s = await openStore(dir, { compactMinBytes: 2048 });
    const model: Record<string, string> = {};
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 48271) % 2147483647), seed % n); // Park-Miller, exact in doubles
    for (let i = 0; i < 400; i++) {
      const k = `k${rnd(30)}`;
      if (rnd(4) === 0) {
        await s.delete(k);
        delete model[k];
      } else {
        model[k] = `${i}:`.padEnd(10 + rnd(190), '.');
        await s.set(k, model[k], rnd(2) ? 3_600_000 : undefined);
      }
    }
    const st = s.stats();
    assert.ok(st.last_compaction !== undefined && st.last_compaction_error === undefined, JSON.stringify(st));
    assert.ok(st.file_bytes < 25_000, `files hold ${st.file_bytes} bytes after ~60 KB of appends`);
    assert.deepEqual(await dump(s), model);
    await s.close();
    assert.deepEqual(await dump(await openStore(dir)), model);
    await rejectsWith(
      (async () => {
        writeFileSync(join(dir, SNAPSHOT_FILE), readFileSync(join(dir, SNAPSHOT_FILE), 'utf8').replace(/"v":"(\d)/, '"v":"#'));
        await openStore(dir);
      })(),
      'CORRUPT',
      new RegExp(`${SNAPSHOT_FILE}:2: checksum mismatch`),
    );
  });

  for (const withClear of [false, true]) {
    it(`loads correctly from a crash between any two compaction steps${withClear ? ' (after a clear)' : ''}`, async () => {
      const dir = freshDir();
      const s = await openStore(dir);
      const model: Record<string, string> = {};
      for (let i = 0; i < 20; i++) await s.set(`a${i}`, (model[`a${i}`] = `old-${i}`));
      await s.compact(); // an older snapshot that still holds a0..a19
      const oldSnapshot = readFileSync(join(dir, SNAPSHOT_FILE), 'utf8');
      for (let i = 0; i < 5; i++) {
        assert.equal(await s.delete(`a${i}`), true);
        delete model[`a${i}`];
      }
      if (withClear) {
        await s.clear();
        for (const k of Object.keys(model)) delete model[k];
      }
      await s.set('a6', (model.a6 = 'new-6'));
      for (let i = 0; i < 10; i++) await s.set(`b${i}`, (model[`b${i}`] = `b-${i}`));
      // A crash image before each file operation of the compaction, and one after the last.
      const images: string[] = [];
      const capture = () => {
        const img = join(ROOT, `img-${dirs}-${images.length}`);
        mkdirSync(img);
        for (const f of readdirSync(dir)) copyFileSync(join(dir, f), join(img, f));
        images.push(img);
      };
      await withFileHooks(capture, () => s.compact());
      capture();
      await s.close();
      const tmpImages = images.filter((d) => existsSync(join(d, SNAPSHOT_TMP)));
      assert.ok(tmpImages.length > 0, 'a crash while the temp snapshot is written was simulated');
      const renamedNotCut = images.filter(
        (d) => !existsSync(join(d, SNAPSHOT_TMP)) && readFileSync(join(d, SNAPSHOT_FILE), 'utf8') !== oldSnapshot && statSync(join(d, LOG_FILE)).size > 0,
      );
      assert.ok(renamedNotCut.length > 0, 'a crash after the rename, before the log is cut, was simulated');
      const newSnapshot = readFileSync(join(dir, SNAPSHOT_FILE), 'utf8');
      for (const [i, d] of tmpImages.entries()) {
        // A torn temp file too: half of what it would have held.
        const torn = `${d}-torn`;
        mkdirSync(torn);
        for (const f of readdirSync(d)) copyFileSync(join(d, f), join(torn, f));
        writeFileSync(join(torn, SNAPSHOT_TMP), newSnapshot.slice(0, (newSnapshot.length >> 1) + i));
        images.push(torn);
      }
      for (const d of images) {
        const r = await openStore(d);
        assert.deepEqual(await dump(r), model, `crash image ${d}`);
        await r.close();
        assert.equal(existsSync(join(d, SNAPSHOT_TMP)), false, 'the leftover temp snapshot is removed at load');
      }
    });
  }
});

/** Deterministic value per key, shared with the child script via toString(). */
function expectedValue(k: string): string {
  return `${k}|`.repeat(1 + (k.length % 4));
}
