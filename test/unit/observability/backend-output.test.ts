/**
 * BackendOutput: a backend's stderr lines and log messages go to the gateway's log within
 * its budget; past it they are counted, not written, and one warn line per window says how
 * many lines, bytes and messages of which backend were dropped. Long lines are cut.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../../src/observability/logger.js';
import { BackendOutput, backendOutput } from '../../../src/observability/backend-output.js';

type Line = Record<string, unknown> & { level: number; msg: string };

function capture(level = 'info'): { log: ReturnType<typeof createLogger>; lines: Line[] } {
  const lines: Line[] = [];
  const log = createLogger(level, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  return { log, lines };
}

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const LIMITS = { linesPerSecond: 100, burst: 1000, bytesPerSecond: 64 * 1024, burstBytes: 1024 * 1024, maxLineBytes: 8192 };
const line = (text: string): [Buffer, number, number] => {
  const b = Buffer.from(`xx${text}yy`);
  return [b, 2, b.length - 2];
};

describe('BackendOutput', () => {
  it('writes stderr lines at info, within the budget; then one summary warn line per window with what was dropped', async () => {
    const { log, lines } = capture();
    const c = clock();
    const out = new BackendOutput(log.child({ backend: 'noisy' }), LIMITS, 100, c.now);
    for (let i = 0; i < 50_000; i++) out.stderr(...line(`line ${i}`));
    const written = lines.filter((l) => l.stream === 'stderr');
    assert.equal(written.length, 1000, 'the burst, no more');
    assert.equal(written[0].msg, 'line 0');
    assert.equal(written[0].backend, 'noisy');
    assert.equal(lines.filter((l) => l.level === 40).length, 0, 'no summary yet: it comes once per window');
    await new Promise((r) => setTimeout(r, 150));
    const warns = lines.filter((l) => l.level === 40);
    assert.equal(warns.length, 1);
    assert.equal(warns[0].msg, 'backend output over its log budget: lines dropped');
    assert.equal(warns[0].backend, 'noisy');
    assert.equal(warns[0].droppedLines, 49_000);
    assert.equal(warns[0].droppedBytes, Buffer.byteLength(Array.from({ length: 49_000 }, (_, i) => `line ${i + 1000}`).join('')));
    assert.equal(warns[0].droppedMessages, 0);
    out.close();
    assert.equal(lines.filter((l) => l.level === 40).length, 1, 'nothing more dropped: no second summary');
  });

  it('bounds log messages too, measuring none of those it refuses for want of a line', () => {
    const { log, lines } = capture();
    const c = clock();
    const out = new BackendOutput(log.child({ backend: 'chatty' }), { ...LIMITS, burst: 5, linesPerSecond: 1 }, 60_000, c.now);
    let measured = 0;
    const params = {
      level: 'info',
      get data() {
        measured++;
        return 'hello';
      },
    };
    for (let i = 0; i < 1000; i++) out.message(log.child({ backend: 'chatty', replica: 1 }), params);
    const written = lines.filter((l) => l.msg === 'backend log message');
    assert.equal(written.length, 5);
    assert.deepEqual(written[0].mcpLog, { level: 'info', data: 'hello' });
    assert.equal(written[0].replica, 1);
    // Each written message is read a few times (measured, redacted, written); the 995 refused ones not at all.
    assert.ok(measured <= 5 * 5, `only messages that may pass are measured (${measured} reads of data)`);
    out.close();
    const warn = lines.find((l) => l.level === 40);
    assert.equal(warn?.droppedMessages, 995);
    assert.equal(warn?.droppedLines, 0);
  });

  it('cuts a long stderr line and a long log message to maxLineBytes, saying how long they were', () => {
    const { log, lines } = capture();
    const out = new BackendOutput(log, LIMITS);
    out.stderr(...line('é'.repeat(40_000)));
    out.message(log, { level: 'info', data: 'x'.repeat(20_000) });
    const [s, m] = lines;
    assert.equal(s.cutFrom, 80_000);
    assert.ok(Buffer.byteLength(s.msg) <= 8192 + 3, `${Buffer.byteLength(s.msg)} bytes`);
    assert.ok(s.msg.startsWith('éé') && s.msg.endsWith('…'));
    assert.equal(typeof m.mcpLog, 'string', 'a cut message is its JSON text');
    assert.ok((m.mcpLog as string).startsWith('{"level":"info","data":"xxx'));
    assert.equal(m.cutFrom, 20_000 + '{"level":"info","data":""}'.length);
    out.close();
  });

  it('a cut log message has its secret-named keys redacted before it is cut', () => {
    const { log, lines } = capture();
    const out = new BackendOutput(log, LIMITS);
    out.message(log, { level: 'info', data: { password: 'hunter2-hunter2', pad: 'x'.repeat(10_000) } });
    assert.doesNotMatch(String(lines[0].mcpLog), /hunter2/);
    assert.match(String(lines[0].mcpLog), /\[redacted\]/);
    out.close();
  });

  it('0 lines per second: nothing of the backend is logged, and no summary', () => {
    const { log, lines } = capture();
    const out = new BackendOutput(log, { ...LIMITS, linesPerSecond: 0 }, 1);
    for (let i = 0; i < 100; i++) out.stderr(...line('x'));
    out.message(log, { level: 'error', data: 'x' });
    out.close();
    assert.deepEqual(lines, []);
  });

  it('with info lines off (logging.level warn) nothing is counted or summarised', () => {
    const { log, lines } = capture('warn');
    const out = new BackendOutput(log, { ...LIMITS, burst: 1 }, 1);
    for (let i = 0; i < 100; i++) out.stderr(...line('x'));
    out.close();
    assert.deepEqual(lines, []);
  });

  it('backendOutput() takes log_output as the config gives it, and the defaults without', () => {
    const { log, lines } = capture();
    const out = backendOutput('b', log, { lines_per_second: 0.001, burst: 2, bytes_per_second: 10, burst_bytes: 10, max_line_bytes: 4 });
    for (let i = 0; i < 5; i++) out.stderr(...line('abcdefgh'));
    out.close();
    assert.deepEqual(
      lines.filter((l) => l.stream === 'stderr').map((l) => l.msg),
      ['abcd…', 'abcd…'],
    );
    assert.equal(lines.at(-1)?.droppedLines, 3);
    assert.equal(lines.at(-1)?.backend, 'b');
    const d = capture();
    const def = backendOutput('d', d.log);
    for (let i = 0; i < 1001; i++) def.stderr(...line('x'));
    def.close();
    // The default clock is read once per turn of the event loop: the 1,001 lines of this loop are judged at one time.
    assert.equal(d.lines.filter((l) => l.stream === 'stderr').length, 1000);
  });
});
