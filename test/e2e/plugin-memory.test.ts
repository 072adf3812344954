/**
 * The built-in memory plugin through the gateway, with the official SDK client: every tool,
 * resource and prompt with its error cases (issue 4, acceptance 1), and durability with a
 * real `mcpeg gateway` child process killed with SIGKILL mid-burst (acceptance 2).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CLI, connectClient, startGateway, textOf } from '../helpers/gateway.js';

type Gw = Awaited<ReturnType<typeof startGateway>>;
type Structured = Record<string, any>; // tool results are checked field by field

const dir = mkdtempSync(join(tmpdir(), 'mcpeg-memory-'));
const spawned: ChildProcess[] = [];
const pathsIn = (name: string) => ({ data: join(dir, name, 'data'), workspace: join(dir, name, 'workspace') });

/** Calls a tool; returns its text, structured content and error flag. */
async function call(client: Client, name: string, args: Record<string, unknown>) {
  const r = await client.callTool({ name, arguments: args });
  return { text: textOf(r), data: (r.structuredContent ?? {}) as Structured, isError: r.isError === true };
}

/** Asserts the call is refused as invalid arguments (JSON-RPC -32602) naming `field`. */
async function rejectsInvalid(client: Client, name: string, args: Record<string, unknown>, field: RegExp) {
  await assert.rejects(client.callTool({ name, arguments: args }), (err: Error & { code?: number }) => {
    assert.equal(err.code, -32602, err.message);
    assert.match(err.message, /Invalid arguments for memory_/);
    assert.match(err.message, field);
    return true;
  });
}

after(() => rmSync(dir, { recursive: true, force: true }));

describe('memory plugin: tools, resources and prompts', () => {
  let gw: Gw;
  let client: Client;

  before(async () => {
    gw = await startGateway({
      paths: pathsIn('tools'),
      plugins: [
        { name: 'memory' },
        // A second instance of the built-in with tight limits, for the limit errors.
        { name: 'tiny', module: 'memory', config: { max_keys: 3, max_value_bytes: 64 } },
      ],
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
  });

  it('lists the six tools, namespaced, with their argument schemas', async () => {
    const { tools } = await client.listTools();
    const mine = tools
      .filter((t) => t.name.startsWith('memory__'))
      .map((t) => t.name)
      .sort();
    assert.deepEqual(mine, ['memory__memory_clear', 'memory__memory_delete', 'memory__memory_list', 'memory__memory_retrieve', 'memory__memory_search', 'memory__memory_store']);
    const store = tools.find((t) => t.name === 'memory__memory_store')!;
    assert.deepEqual(store.inputSchema.required, ['key', 'value']);
  });

  it('stores any JSON value and retrieves it; a second store updates', async () => {
    const value = { name: 'Ada', tags: ['math', 'engines'], n: 1.5, ok: true, none: null };
    const first = await call(client, 'memory__memory_store', { key: 'user:ada', value });
    assert.equal(first.isError, false, first.text);
    assert.equal(first.text, 'stored "user:ada"');
    assert.deepEqual(first.data, { key: 'user:ada', created: true });

    const got = await call(client, 'memory__memory_retrieve', { key: 'user:ada' });
    assert.equal(got.isError, false);
    assert.deepEqual(got.data.value, value);
    assert.deepEqual(JSON.parse(got.text), value);
    assert.equal(got.data.expiresAt, undefined);

    const second = await call(client, 'memory__memory_store', { key: 'user:ada', value: 'replaced' });
    assert.equal(second.text, 'updated "user:ada"');
    assert.equal(second.data.created, false);
    const again = await call(client, 'memory__memory_retrieve', { key: 'user:ada' });
    assert.equal(again.data.value, 'replaced');
    assert.equal(again.data.createdAt, got.data.createdAt, 'an update keeps the creation time');
  });

  it('reports the expiry of a key stored with a ttl', async () => {
    const before = Date.now();
    const r = await call(client, 'memory__memory_store', { key: 'session:tmp', value: 1, ttl: 3600 });
    const expires = Date.parse(r.data.expiresAt);
    assert.ok(expires >= before + 3600_000 && expires <= Date.now() + 3600_000, r.data.expiresAt);
    const got = await call(client, 'memory__memory_retrieve', { key: 'session:tmp' });
    assert.equal(got.data.expiresAt, r.data.expiresAt);
  });

  it('lists keys sorted, filtered by a glob (* ? and \\ escapes), with a limit', async () => {
    for (const k of ['user:bob', 'user:cy', 'team:core', 'a*b', 'axb']) await call(client, 'memory__memory_store', { key: k, value: k });
    const all = await call(client, 'memory__memory_list', {});
    const keys = all.data.keys.map((i: { key: string }) => i.key);
    assert.deepEqual(keys, [...keys].sort());
    assert.ok(keys.includes('team:core') && keys.includes('user:bob'));

    const users = await call(client, 'memory__memory_list', { pattern: 'user:*' });
    assert.deepEqual(
      users.data.keys.map((i: { key: string }) => i.key),
      ['user:ada', 'user:bob', 'user:cy'],
    );
    assert.equal(users.text, 'user:ada\nuser:bob\nuser:cy');
    const one = await call(client, 'memory__memory_list', { pattern: 'user:??' });
    assert.deepEqual(
      one.data.keys.map((i: { key: string }) => i.key),
      ['user:cy'],
    );
    const literal = await call(client, 'memory__memory_list', { pattern: 'a\\*b' });
    assert.deepEqual(
      literal.data.keys.map((i: { key: string }) => i.key),
      ['a*b'],
    );
    const limited = await call(client, 'memory__memory_list', { pattern: 'user:*', limit: 2 });
    assert.deepEqual(
      limited.data.keys.map((i: { key: string }) => i.key),
      ['user:ada', 'user:bob'],
    );
    const none = await call(client, 'memory__memory_list', { pattern: 'nothing:*' });
    assert.equal(none.text, '(no keys)');
  });

  it('searches keys and values case-insensitively, key matches ranked first', async () => {
    await call(client, 'memory__memory_store', { key: 'coffee', value: 'black' });
    await call(client, 'memory__memory_store', { key: 'coffee-order', value: 'flat white' });
    await call(client, 'memory__memory_store', { key: 'my-coffee-mug', value: 'blue' });
    await call(client, 'memory__memory_store', { key: 'breakfast', value: 'toast and COFFEE' });
    await call(client, 'memory__memory_store', { key: 'lunch', value: 'soup' });

    const r = await call(client, 'memory__memory_search', { query: 'Coffee' });
    assert.deepEqual(
      r.data.hits.map((h: { key: string }) => h.key),
      ['coffee', 'coffee-order', 'my-coffee-mug', 'breakfast'],
    );
    assert.deepEqual(
      r.data.hits.map((h: { score: number }) => h.score),
      [4, 3, 2, 1],
    );
    assert.equal(r.data.hits[3].value, 'toast and COFFEE');
    const top = await call(client, 'memory__memory_search', { query: 'coffee', limit: 2 });
    assert.deepEqual(
      top.data.hits.map((h: { key: string }) => h.key),
      ['coffee', 'coffee-order'],
    );
    const miss = await call(client, 'memory__memory_search', { query: 'zzz-not-there' });
    assert.equal(miss.text, '(no matches)');
    assert.deepEqual(miss.data.hits, []);
  });

  it('deletes a key, and says so when there was none', async () => {
    await call(client, 'memory__memory_store', { key: 'doomed', value: 'x' });
    const del = await call(client, 'memory__memory_delete', { key: 'doomed' });
    assert.deepEqual(del.data, { key: 'doomed', deleted: true });
    const gone = await call(client, 'memory__memory_retrieve', { key: 'doomed' });
    assert.equal(gone.isError, true);
    const again = await call(client, 'memory__memory_delete', { key: 'doomed' });
    assert.equal(again.isError, false);
    assert.deepEqual(again.data, { key: 'doomed', deleted: false });
    assert.equal(again.text, 'no value stored under "doomed"');
  });

  it('a missing key is a tool error naming the key', async () => {
    const r = await call(client, 'memory__memory_retrieve', { key: 'never-stored' });
    assert.equal(r.isError, true);
    assert.equal(r.text, 'no value stored under "never-stored"');
  });

  it('invalid arguments are JSON-RPC -32602 errors and store nothing', async () => {
    await rejectsInvalid(client, 'memory__memory_store', { key: 'no-value' }, /value/);
    await rejectsInvalid(client, 'memory__memory_store', { key: '', value: 1 }, /key/);
    await rejectsInvalid(client, 'memory__memory_store', { key: 42, value: 1 }, /key/);
    await rejectsInvalid(client, 'memory__memory_store', { key: 'k', value: 1, ttl: 0 }, /ttl/);
    await rejectsInvalid(client, 'memory__memory_store', { key: 'k', value: 1, colour: 'red' }, /colour|additional/);
    await rejectsInvalid(client, 'memory__memory_list', { limit: 0 }, /limit/);
    await rejectsInvalid(client, 'memory__memory_search', { query: '' }, /query/);
    await rejectsInvalid(client, 'memory__memory_clear', {}, /confirm/);
    const r = await call(client, 'memory__memory_retrieve', { key: 'no-value' });
    assert.equal(r.isError, true);
  });

  it('a key the store cannot hold is a tool error with its code', async () => {
    const ctl = await call(client, 'memory__memory_store', { key: 'bad\u0001key', value: 1 });
    assert.equal(ctl.isError, true);
    assert.match(ctl.text, /^memory_store failed \(KEY_INVALID\): .*control character/);
    // Over the store's 256-character limit: refused by the tool's schema, before the store.
    await assert.rejects(client.callTool({ name: 'memory__memory_store', arguments: { key: 'k'.repeat(300), value: 1 } }), (err: Error & { code?: number }) => {
      assert.equal(err.code, -32602);
      assert.match(err.message, /key: must NOT have more than 256 characters/);
      return true;
    });
  });

  it('refuses a value over max_value_bytes (measured as JSON), and accepts one at the limit', async () => {
    const atLimit = await call(client, 'tiny__memory_store', { key: 'fits', value: 'x'.repeat(62) }); // "xxx…" is 64 bytes
    assert.equal(atLimit.isError, false, atLimit.text);
    const big = await call(client, 'tiny__memory_store', { key: 'big', value: 'x'.repeat(63) });
    assert.equal(big.isError, true);
    assert.match(big.text, /^memory_store failed \(VALUE_TOO_LARGE\): value is 65 bytes; the limit is 64 bytes/);
    assert.equal((await call(client, 'tiny__memory_retrieve', { key: 'big' })).isError, true);
  });

  it('refuses a new key past max_keys, but still updates existing keys and accepts one after a delete', async () => {
    await call(client, 'tiny__memory_store', { key: 'k2', value: 2 });
    await call(client, 'tiny__memory_store', { key: 'k3', value: 3 });
    const over = await call(client, 'tiny__memory_store', { key: 'k4', value: 4 });
    assert.equal(over.isError, true);
    assert.match(over.text, /^memory_store failed \(TOO_MANY_KEYS\): the store holds 3 keys; the limit is 3/);
    const update = await call(client, 'tiny__memory_store', { key: 'k3', value: 33 });
    assert.equal(update.isError, false, update.text);
    await call(client, 'tiny__memory_delete', { key: 'k2' });
    const after = await call(client, 'tiny__memory_store', { key: 'k4', value: 4 });
    assert.equal(after.isError, false, after.text);
    const list = await call(client, 'tiny__memory_list', {});
    assert.deepEqual(
      list.data.keys.map((i: { key: string }) => i.key),
      ['fits', 'k3', 'k4'],
    );
  });

  it('100 parallel stores lose nothing', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => call(client, 'memory__memory_store', { key: `par:${String(i).padStart(3, '0')}`, value: { i } })));
    assert.ok(results.every((r) => !r.isError && r.data.created === true));
    const list = await call(client, 'memory__memory_list', { pattern: 'par:*', limit: 1000 });
    assert.equal(list.data.keys.length, 100);
    assert.deepEqual(
      list.data.keys.map((i: { key: string }) => i.key),
      Array.from({ length: 100 }, (_, i) => `par:${String(i).padStart(3, '0')}`),
    );
    const dump = JSON.parse(await readText(client, 'mcpeg://memory/dump'));
    for (let i = 0; i < 100; i++) assert.deepEqual(dump[`par:${String(i).padStart(3, '0')}`], { i });
  });

  it('lists both resources; stats counts live keys and dump holds every value', async () => {
    const { resources } = await client.listResources();
    const uris = resources.map((r) => r.uri);
    assert.ok(uris.includes('mcpeg://memory/stats') && uris.includes('mcpeg://memory/dump'), uris.join(','));

    const listed = await call(client, 'memory__memory_list', { limit: 10_000 });
    const stats = JSON.parse(await readText(client, 'mcpeg://memory/stats'));
    assert.equal(stats.keys, listed.data.keys.length);
    assert.ok(stats.bytes > 0 && stats.file_bytes > 0, JSON.stringify(stats));
    const dump = JSON.parse(await readText(client, 'mcpeg://memory/dump'));
    assert.deepEqual(
      Object.keys(dump).sort(),
      listed.data.keys.map((i: { key: string }) => i.key),
    );
    assert.equal(dump['team:core'], 'team:core');
  });

  it('lists both prompts with their arguments and fills them from memory', async () => {
    const { prompts } = await client.listPrompts();
    const search = prompts.find((p) => p.name === 'memory__memory_search');
    const context = prompts.find((p) => p.name === 'memory__memory_context');
    assert.deepEqual(search?.arguments, [{ name: 'query', description: 'What to recall.', required: true }]);
    assert.equal(context?.arguments?.[0].name, 'pattern');

    const recalled = await client.getPrompt({ name: 'memory__memory_search', arguments: { query: 'coffee' } });
    const text = (recalled.messages[0].content as { text: string }).text;
    assert.match(text, /^Relevant memory for "coffee":\n- coffee: "black"\n- coffee-order: "flat white"/);
    assert.match(text, /- breakfast: "toast and COFFEE"/);
    assert.doesNotMatch(text, /lunch/);
    const nothing = await client.getPrompt({ name: 'memory__memory_search', arguments: { query: 'qwertyuiop' } });
    assert.equal((nothing.messages[0].content as { text: string }).text, 'Memory holds nothing about "qwertyuiop".');
    await assert.rejects(client.getPrompt({ name: 'memory__memory_search', arguments: {} }), /needs argument: query/);

    const ctx = await client.getPrompt({ name: 'memory__memory_context', arguments: { pattern: 'team:*' } });
    assert.equal((ctx.messages[0].content as { text: string }).text, 'What memory holds:\n- team:core: "team:core"');
    const all = await client.getPrompt({ name: 'memory__memory_context', arguments: {} });
    assert.match((all.messages[0].content as { text: string }).text, /- user:bob: "user:bob"/);
  });

  it('clear refuses without confirm: true, then removes every key', async () => {
    const before = (await call(client, 'memory__memory_list', { limit: 10_000 })).data.keys.length;
    assert.ok(before > 100);
    const refused = await call(client, 'memory__memory_clear', { confirm: false });
    assert.equal(refused.isError, true);
    assert.match(refused.text, /^memory_clear failed \(CONFIRM_REQUIRED\)/);
    assert.equal((await call(client, 'memory__memory_list', { limit: 10_000 })).data.keys.length, before);

    const cleared = await call(client, 'memory__memory_clear', { confirm: true });
    assert.deepEqual(cleared.data, { removed: before });
    assert.deepEqual((await call(client, 'memory__memory_list', {})).data.keys, []);
    assert.equal(JSON.parse(await readText(client, 'mcpeg://memory/stats')).keys, 0);
    const empty = await client.getPrompt({ name: 'memory__memory_context', arguments: {} });
    assert.equal((empty.messages[0].content as { text: string }).text, 'Memory is empty.');
    // The other instance has its own store.
    assert.equal((await call(client, 'tiny__memory_list', {})).data.keys.length, 3);
  });
});

describe('memory plugin: durability across crashes and restarts (mcpeg gateway child process)', () => {
  const base = join(dir, 'durable');
  const configFile = join(base, 'mcpeg.yaml');

  // A failed assertion must not leave a gateway running: every child is killed at the end.
  after(() => {
    for (const p of spawned) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });

  before(() => {
    mkdirSync(base, { recursive: true });
    // JSON is YAML; absolute paths so the data directory is the same on every start.
    writeFileSync(
      configFile,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        logging: { level: 'warn' },
        paths: pathsIn('durable'),
        plugins: [{ name: 'memory' }],
      }),
    );
  });

  it('every acknowledged write survives SIGKILL during a burst of stores', async () => {
    let gw = await spawnGateway(configFile);
    let client = await connectClient(gw.url);
    const acked = new Map<string, unknown>();
    let sent = 0;
    let pending = 0;
    let failedAfterKill = 0;
    let killed = false;
    // Each worker stores without pause until a call fails: an answer already on its way when the
    // kill lands is an acknowledged write like any other; the next call finds the gateway gone.
    const worker = async (w: number) => {
      for (let i = 0; ; i++) {
        const key = `burst:${w}:${i}`;
        const value = { w, i, pad: 'p'.repeat(i % 50) };
        sent++;
        pending++;
        try {
          const r = await client.callTool({ name: 'memory__memory_store', arguments: { key, value } });
          if (r.isError) throw new Error(`store failed while the gateway was up: ${textOf(r)}`);
          acked.set(key, value);
        } catch (err) {
          if (!killed) throw err;
          failedAfterKill++;
          return;
        } finally {
          pending--;
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    // Kill during the burst: once enough are acknowledged, with all 16 workers' stores outstanding.
    while (acked.size < 300) await new Promise((r) => setTimeout(r, 5));
    const outstanding = pending;
    killed = true;
    gw.proc.kill('SIGKILL');
    await Promise.all(workers);
    await gw.exited;
    await client.close().catch(() => {});
    assert.equal(outstanding, 16, 'every worker had a store outstanding when the kill was sent');
    assert.equal(failedAfterKill, 16, 'every worker found the gateway gone');
    assert.ok(sent > acked.size);

    gw = await spawnGateway(configFile);
    client = await connectClient(gw.url);
    try {
      const list = await client.callTool({ name: 'memory__memory_list', arguments: { pattern: 'burst:*', limit: 10_000 } });
      const present = new Set((list.structuredContent as Structured).keys.map((i: { key: string }) => i.key));
      const missing = [...acked.keys()].filter((k) => !present.has(k));
      assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged keys lost`);
      // Unacknowledged writes may or may not have landed, but nothing appears that was never sent.
      assert.ok(present.size <= sent);
      const dump = JSON.parse(await readText(client, 'mcpeg://memory/dump'));
      for (const [k, v] of acked) assert.deepEqual(dump[k], v, k);
      const sample = [...acked.keys()].slice(-5);
      for (const k of sample) {
        const r = await client.callTool({ name: 'memory__memory_retrieve', arguments: { key: k } });
        assert.deepEqual((r.structuredContent as Structured).value, acked.get(k));
      }
      // The store is writable after recovering from the torn log.
      const after = await client.callTool({ name: 'memory__memory_store', arguments: { key: 'after-crash', value: 'ok' } });
      assert.equal(after.isError, undefined, textOf(after));
    } finally {
      await client.close();
      await gw.stop();
    }
  });

  it('TTLs are persisted and enforced after a restart', async () => {
    let gw = await spawnGateway(configFile);
    let client = await connectClient(gw.url);
    const short = await client.callTool({ name: 'memory__memory_store', arguments: { key: 'ttl:short', value: 'soon gone', ttl: 1 } });
    const long = await client.callTool({ name: 'memory__memory_store', arguments: { key: 'ttl:long', value: 'later', ttl: 3600 } });
    await client.callTool({ name: 'memory__memory_store', arguments: { key: 'ttl:none', value: 'forever' } });
    const shortExpiry = Date.parse((short.structuredContent as Structured).expiresAt);
    const longExpiry = (long.structuredContent as Structured).expiresAt;
    await client.close();
    gw.proc.kill('SIGKILL');
    await gw.exited;

    gw = await spawnGateway(configFile);
    client = await connectClient(gw.url);
    try {
      // The expiry time itself came back from disk, unchanged (not restarted from the reload).
      const l = await client.callTool({ name: 'memory__memory_retrieve', arguments: { key: 'ttl:long' } });
      assert.equal((l.structuredContent as Structured).expiresAt, longExpiry);
      const wait = shortExpiry + 100 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));

      const s = await client.callTool({ name: 'memory__memory_retrieve', arguments: { key: 'ttl:short' } });
      assert.equal(s.isError, true, 'expired after the restart');
      assert.equal(textOf(s), 'no value stored under "ttl:short"');
      const list = await client.callTool({ name: 'memory__memory_list', arguments: { pattern: 'ttl:*' } });
      assert.deepEqual(
        (list.structuredContent as Structured).keys.map((i: { key: string }) => i.key),
        ['ttl:long', 'ttl:none'],
      );
      const search = await client.callTool({ name: 'memory__memory_search', arguments: { query: 'soon gone' } });
      assert.deepEqual((search.structuredContent as Structured).hits, []);
      const n = await client.callTool({ name: 'memory__memory_retrieve', arguments: { key: 'ttl:none' } });
      assert.equal((n.structuredContent as Structured).value, 'forever');
    } finally {
      await client.close();
      await gw.stop();
    }
  });
});

async function readText(client: Client, uri: string): Promise<string> {
  const r = await client.readResource({ uri });
  return (r.contents[0] as { text: string }).text;
}

/** `mcpeg gateway --config FILE` as a child process; resolves with the URL it prints on stderr. */
async function spawnGateway(configFile: string): Promise<{ url: string; proc: ChildProcess; exited: Promise<void>; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [CLI, 'gateway', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  spawned.push(proc);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${stderr}`)), 15_000);
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /mcpeg listening on (http:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code}:\n${stderr}`));
    });
  });
  return {
    url,
    proc,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
