/**
 * The logger (src/observability/logger.ts): secret-named keys redacted at any depth without
 * touching the caller's object, preformatted lines identical to pino's own, configured
 * secrets scrubbed from both, and the buffered file destination losing nothing at exit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, read, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { FLUSH_MS, LineBatcher, MAX_HELD } from '../../../src/observability/log-sink.js';
import { createLogger, flushLogSync, lineWriter, redactKeys } from '../../../src/observability/logger.js';

const SECRET = 'sk-live-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'mcpeg-logger-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sink(level = 'info', secrets: string[] = []) {
  const lines: string[] = [];
  const log = createLogger(level, { write: (s: string) => void lines.push(s) }, { secrets });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('redactKeys', () => {
  it('censors secret-named keys at any depth and in any case, in arrays too', () => {
    const o = { a: 1, Authorization: 'Bearer x', nested: { deep: { deeper: { apiKey: 'k', list: [{ password: 'p' }, 'plain'] } } }, headers: { cookie: 'c', accept: '*/*' } };
    assert.deepEqual(redactKeys(o), {
      a: 1,
      Authorization: '[redacted]',
      nested: { deep: { deeper: { apiKey: '[redacted]', list: [{ password: '[redacted]' }, 'plain'] } } },
      headers: { cookie: '[redacted]', accept: '*/*' },
    });
  });

  it("never changes the caller's object, and copies nothing when no key matches", () => {
    const inner = { token: 't' };
    const o = { keep: { x: 1 }, inner };
    const r = redactKeys(o);
    assert.equal(inner.token, 't');
    assert.notEqual(r, o);
    assert.equal(r.keep, o.keep, 'a branch without secrets is shared, not copied');
    const clean = { a: { b: [1, { c: 'd' }] } };
    assert.equal(redactKeys(clean), clean);
  });

  it('leaves class instances (errors, dates) to their serializers, and stops on cycles by depth', () => {
    const err = Object.assign(new Error('boom'), { token: 'inside' });
    assert.equal(redactKeys({ err }).err, err);
    const cyclic: Record<string, unknown> = { name: 'c' };
    cyclic.self = cyclic;
    assert.doesNotThrow(() => redactKeys(cyclic));
  });

  it('applies to every line pino writes, bindings of child and grandchild loggers included', () => {
    const { log, parsed } = sink();
    log
      .child({ a: 1 })
      .child({ secret: 'bound' })
      .info({ user: { password: 'hunter2' } }, 'x');
    const [line] = parsed();
    assert.equal(line.secret, '[redacted]');
    assert.deepEqual(line.user, { password: '[redacted]' });
  });
});

describe('lineWriter', () => {
  it('writes the line pino would write for the same fields', () => {
    const { log, lines } = sink();
    const fields = { reqId: 'r-1', method: 'POST', path: '/mcp?"\\', status: 200, ms: 1.5, ua: 'ü "quoted"\n' };
    log.info(fields, 'http request');
    lineWriter(log, 'info')!(JSON.stringify(fields).slice(1, -1), '"http request"');
    assert.equal(lines.length, 2);
    const [viaPino, viaWriter] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.match(String(viaWriter.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual({ ...viaWriter, time: 0 }, { ...viaPino, time: 0 });
    assert.deepEqual(Object.keys(viaWriter), Object.keys(viaPino), 'same field order');
    assert.ok(lines[1].endsWith('}\n'));
  });

  it('follows the level, which is reloadable', () => {
    const { log, lines } = sink('warn');
    const write = lineWriter(log, 'info')!;
    write('"a":1', '"m"');
    assert.equal(lines.length, 0);
    log.level = 'info';
    write('"a":2', '"m"');
    assert.equal(lines.length, 1);
  });

  it('scrubs configured secrets from the whole line, client text included', () => {
    const { log, lines } = sink('info', [SECRET]);
    lineWriter(log, 'info')!(`"ua":${JSON.stringify(`curl ${SECRET}`)},"path":"/x/${SECRET}"`, `"seen ${SECRET}"`);
    assert.ok(!lines[0].includes(SECRET), lines[0]);
    assert.equal((lines[0].match(/\[redacted\]/g) ?? []).length, 3);
  });

  it('is undefined for a pino logger the gateway did not make (its owner configured it)', async () => {
    const { pino } = await import('pino');
    assert.equal(lineWriter(pino({ level: 'info' }), 'info'), undefined);
  });
});

describe('the file destination: lines written in batches', () => {
  it('the lines of a few milliseconds reach the destination in one write, across event-loop turns', async () => {
    const writes: string[] = [];
    // A longer wait than FLUSH_MS: two turns of a busy test runner's loop can take longer than 25 ms.
    const waitMs = 500;
    const b = new LineBatcher({ write: (d) => writes.push(d) > 0, flushSync: () => {} }, waitMs);
    b.write('a\n');
    await new Promise((r) => setImmediate(r));
    b.write('b\n');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(writes, [], 'held over turns, until the wait has passed');
    await new Promise((r) => setTimeout(r, waitMs + 50));
    assert.deepEqual(writes, ['a\nb\n'], 'one write for both');
    b.write('c\n');
    b.flushSync();
    assert.deepEqual(writes, ['a\nb\n', 'c\n'], 'flushSync hands over at once');
    await new Promise((r) => setTimeout(r, waitMs + 50));
    assert.deepEqual(writes, ['a\nb\n', 'c\n'], 'the cleared timer writes nothing more');
  });

  it('a burst past MAX_HELD characters is handed over at once, without waiting for the timer', () => {
    const writes: string[] = [];
    const b = new LineBatcher({ write: (d) => writes.push(d) > 0, flushSync: () => {} });
    const line = `${'x'.repeat(1023)}\n`;
    const n = MAX_HELD / line.length;
    for (let i = 0; i < n - 1; i++) b.write(line);
    assert.equal(writes.length, 0, 'below MAX_HELD: held');
    b.write(line);
    assert.equal(writes.length, 1, 'at MAX_HELD: written in the same call');
    assert.equal(writes[0].length, MAX_HELD);
    b.flushSync();
    assert.equal(writes.length, 1, 'nothing left');
  });

  it('a line reaches the file without another line to push it', async () => {
    const file = join(dir, 'timed.log');
    const log = createLogger('info', file);
    log.info('one line');
    const deadline = Date.now() + 5000;
    const text = () => (existsSync(file) ? readFileSync(file, 'utf8') : '');
    while (!text().includes('one line') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.match(readFileSync(file, 'utf8'), /"msg":"one line"/);
  });

  it('to a regular file, held lines are in the file as soon as the timer fires (written on the loop, not by the thread pool)', async () => {
    const files = [join(dir, 'fd.log'), join(dir, 'path.log')];
    const logs = [createLogger('info', openSync(files[0], 'a')), createLogger('info', files[1])];
    // A path is opened asynchronously: let that happen first.
    await new Promise((r) => setTimeout(r, 100));
    // Every thread of libuv's pool (4) waits on a FIFO: a write handed to the pool could not happen now.
    const fifo = join(dir, 'busy.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const fd = openSync(fifo, 'r+');
    const reads = Array.from({ length: 4 }, () => new Promise((r) => read(fd, Buffer.alloc(1), 0, 1, null, r)));
    try {
      for (const log of logs) for (let i = 0; i < 3; i++) log.info({ i }, 'on the loop');
      // The batchers' timers were armed first, with a shorter delay: they have run (and written) when this one runs.
      const seen = await new Promise<string[]>((r) => setTimeout(() => r(files.map((f) => readFileSync(f, 'utf8'))), FLUSH_MS + 1));
      for (const text of seen) assert.equal(text.split('\n').filter((l) => l.includes('"on the loop"')).length, 3);
    } finally {
      writeSync(fd, 'xxxx');
      await Promise.all(reads);
      closeSync(fd);
    }
  });

  it('flushLogSync writes what is held at once', () => {
    const file = join(dir, 'sync.log');
    // A descriptor is ready at once (a path is opened asynchronously).
    const log = createLogger('info', openSync(file, 'a'));
    for (let i = 0; i < 10; i++) log.info({ i }, 'gathered');
    assert.equal(readFileSync(file, 'utf8'), '', 'held until the timer fires');
    flushLogSync(log);
    assert.equal(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"gathered"')).length,
      10,
    );
  });

  it('a process that exits right after logging loses no line, its last words included', () => {
    const file = join(dir, 'exit.log');
    const logger = pathToFileURL(join(import.meta.dirname, '../../../src/observability/logger.js')).href;
    const script = `
import { createLogger, flushLogSync } from ${JSON.stringify(logger)};
      const log = createLogger('info', ${JSON.stringify(file)});
      setTimeout(() => {
        process.on('exit', () => { log.info('last words'); flushLogSync(log); });
        for (let i = 0; i < 1000; i++) log.info({ i }, 'line');
        process.exit(0);
      }, 50);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.filter((l) => l.includes('"msg":"line"')).length, 1000);
    assert.match(lines.at(-1)!, /"msg":"last words"/);
  });
});
