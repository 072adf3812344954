/**
 * Large results relayed as bytes (wire/raw-json.ts). The bytes come from a backend, so
 * the scan is checked against JSON.parse from an attacker's side: whatever it accepts,
 * JSON.parse reads the same way (same id, same result); whatever it cannot vouch for
 * (an error, duplicate or unknown or escaped member names, invalid JSON or UTF-8,
 * trailing text) it leaves to the parse path.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messageBody, messageText, type RawJson, scanResultResponse } from '../../../src/wire/raw-json.js';

const scan = (text: string | Buffer) => scanResultResponse(typeof text === 'string' ? Buffer.from(text) : text);

/** What the parse path makes of the same bytes: the id and the result of a {jsonrpc, id, result} message. */
function parsed(text: string): { id: unknown; result: unknown } {
  const m = JSON.parse(text) as { id: unknown; result: unknown };
  return { id: m.id, result: m.result };
}

function assertSame(text: string): RawJson {
  const r = scan(text);
  assert.ok(r, `not taken: ${text.slice(0, 120)}`);
  const want = parsed(text);
  assert.deepEqual(r.id, want.id);
  assert.deepEqual(JSON.parse(r.result.text()), want.result);
  assert.deepEqual(r.result.value(), want.result);
  return r.result;
}

describe('raw results: what is taken, read as JSON.parse reads it', () => {
  it('ids of every JSON type a request may carry: numbers and strings, escapes included', () => {
    for (const id of [
      '0',
      '-0',
      '-1',
      '7',
      '-12',
      '999999999999999',
      '-999999999999999',
      '9007199254740993',
      '1.5',
      '1e3',
      '-0.25E-2',
      '12345678901234567890',
      '""',
      '"a"',
      '"a\\"b"',
      '"\\u00e9t\\u00E9"',
      '"x\\\\y"',
      '"\\ud83d\\ude00"',
      '"☕"',
    ])
      assertSame(`{"jsonrpc":"2.0","id":${id},"result":{"content":[]}}`);
  });

  it('keeps the result as it came: escapes, multi-byte text, nested "id" and "result" keys untouched', () => {
    const result = '{"id":999,"result":{"id":"not me"},"content":[{"type":"text","text":"\\u0041\\n\\"q\\" \\\\ é ☕ 😀 \\ud800"}],"n":[-0,1.5e-3,true,false,null,{},[]]}';
    const raw = assertSame(`{"jsonrpc":"2.0","id":7,"result":${result}}`);
    assert.equal(raw.text(), result);
  });

  it('members in any order, with whitespace anywhere JSON allows it', () => {
    assertSame('{"result":{"a":1},"id":3,"jsonrpc":"2.0"}');
    assertSame(' \t{ "id" : 3 ,\t"jsonrpc" :"2.0", "result" : { "a" : [ 1 , 2 ] } } \n');
  });

  it('line breaks inside the result become spaces: it stays one stdio line, one SSE data field', () => {
    const pretty = JSON.stringify({ content: [{ type: 'text', text: 'line1\nline2\r\n' }], x: { y: [1, 2] } }, null, 2).replaceAll('\n', '\r\n');
    const raw = assertSame(`{\r\n"jsonrpc": "2.0",\n"id": 1,\n"result": ${pretty}\n}\n`);
    assert.equal(raw.bytes.indexOf(0x0a), -1);
    assert.equal(raw.bytes.indexOf(0x0d), -1);
    // A backend that hides a second message behind a raw line break gets one line, not two.
    const forged = assertSame('{"jsonrpc":"2.0","id":1,"result":{"a":1\n,"b":{"jsonrpc":"2.0","id":2,"result":{}}}}');
    assert.equal(messageText({ jsonrpc: '2.0', id: 1, result: forged }).split('\n').length, 1);
  });

  it('notes a result that may be a tool error (a top-level isError that is not false), however it is spelled', () => {
    const err = (result: string) => scan(`{"jsonrpc":"2.0","id":1,"result":${result}}`)!.result.maybeError;
    assert.equal(err('{"content":[],"isError":true}'), true);
    assert.equal(err('{"isError" : "yes"}'), true);
    assert.equal(err('{"is\\u0045rror":true}'), true);
    assert.equal(err('{"isError":false,"content":[]}'), false);
    assert.equal(err('{"content":[{"isError":true}],"x":{"isError":true}}'), false);
    assert.equal(err('{"content":[]}'), false);
  });
});

describe('raw results: what is left to the parse path', () => {
  const left = (text: string | Buffer, why: string) => assert.equal(scan(text), undefined, why);

  it('anything but a result response with exactly jsonrpc "2.0", a string or number id and an object result', () => {
    left('{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}', 'an error');
    left('{"jsonrpc":"2.0","id":1,"method":"x","params":{}}', 'a request');
    left('{"jsonrpc":"2.0","method":"x"}', 'a notification');
    for (const r of ['[]', '"s"', '1', 'null', 'true']) left(`{"jsonrpc":"2.0","id":1,"result":${r}}`, `result ${r}`);
    for (const id of ['null', 'true', '{}', '[1]']) left(`{"jsonrpc":"2.0","id":${id},"result":{}}`, `id ${id}`);
    left('{"jsonrpc":"2.0","result":{}}', 'no id');
    left('{"id":1,"result":{}}', 'no jsonrpc');
    for (const v of ['"2.1"', '"2\\u002e0"', '2.0', '" 2.0"']) left(`{"jsonrpc":${v},"id":1,"result":{}}`, `jsonrpc ${v}`);
    left('[{"jsonrpc":"2.0","id":1,"result":{}}]', 'a batch');
  });

  it('duplicate, unknown or escaped member names (JSON.parse keeps the last: the parse path decides)', () => {
    left('{"jsonrpc":"2.0","id":1,"result":{},"id":2}', 'two ids');
    left('{"jsonrpc":"2.0","id":1,"result":{"a":1},"result":{"b":2}}', 'two results');
    left('{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"result":{}}', 'two jsonrpc');
    left('{"jsonrpc":"2.0","id":1,"result":{},"extra":1}', 'an extra member');
    left('{"jsonrpc":"2.0","\\u0069d":1,"result":{}}', 'an escaped id');
    left('{"jsonrpc":"2.0","id":1,"re\\u0073ult":{}}', 'an escaped result');
  });

  it('text after the message (a second message, NDJSON) and a byte order mark', () => {
    left('{"jsonrpc":"2.0","id":1,"result":{}}\n{"jsonrpc":"2.0","id":2,"result":{}}', 'two messages');
    left('{"jsonrpc":"2.0","id":1,"result":{}} x', 'trailing text');
    left(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"jsonrpc":"2.0","id":1,"result":{}}')]), 'a BOM');
  });

  it('invalid UTF-8 anywhere', () => {
    const wrap = (bytes: number[]) => Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"t":"'), Buffer.from(bytes), Buffer.from('"}}')]);
    for (const bytes of [[0xc0, 0xaf], [0x80], [0xe2, 0x98], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xff]]) left(wrap(bytes), `bytes ${bytes}`);
    assert.ok(scan(wrap([0xe2, 0x98, 0x95])), 'a valid character is taken');
  });

  it('invalid JSON inside the result', () => {
    const bad = [
      '{"t":"a\nb"}', // a raw control character in a string
      '{"t":"a\tb"}',
      '{"t":"\u0000"}',
      '{"t":"\\x41"}', // not a JSON escape
      '{"t":"\\u12"}',
      '{"t":"\\u12G4"}',
      '{"a":[1,]}',
      '{"a":1,}',
      '{"a":01}',
      '{"a":1.}',
      '{"a":.5}',
      '{"a":-}',
      '{"a":1e}',
      '{"a":+1}',
      '{"a":tru}',
      '{"a":nul}',
      '{"a":NaN}',
      '{"a":[}',
      '{"a":1]',
      '{"a" 1}',
      '{a:1}',
      "{'a':1}",
      '{"a":"unterminated}',
      '{"a":[1 2]}',
      '{"a":1 "b":2}',
    ];
    for (const r of bad) {
      const text = `{"jsonrpc":"2.0","id":1,"result":${r}}`;
      assert.throws(() => JSON.parse(text), SyntaxError, `JSON.parse takes ${r}`);
      left(text, r);
    }
    left('{"jsonrpc":"2.0","id":1,"result":{}', 'unclosed message');
    left('', 'empty');
  });
});

describe('raw results: against JSON.parse, at every alignment, on hostile input', () => {
  it('agrees with JSON.parse on random strings of quotes, escapes, control and multi-byte characters at every byte alignment', () => {
    // Words are skipped four bytes at a time from the first aligned byte: special bytes at every offset must still be seen.
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const atoms = ['a', 'b', 'xyzw', '"', '\\"', '\\\\', '\\n', '\\u00e9', '\\u12', '\\q', '\n', '\t', '\u0001', 'é', '☕', '😀', '\\', ' ', '}', ']'];
    let taken = 0;
    for (let k = 0; k < 3000; k++) {
      let s = '';
      for (let j = rnd(40); j > 0; j--) s += atoms[rnd(atoms.length)];
      // Half of them long enough to be skipped a word at a time (the scan does that from 256 bytes).
      if (k % 2 === 1) s = `${'p'.repeat(200 + rnd(9))}${s}`;
      const text = `{"jsonrpc":"2.0","id":${k},"result":{"text":"${s}","n":1}}`;
      let want: { id: unknown; result: unknown } | undefined;
      try {
        want = parsed(text);
      } catch {
        want = undefined;
      }
      const bytes = Buffer.from(text);
      for (let offset = 0; offset < 4; offset++) {
        // The same bytes at another byteOffset in a larger ArrayBuffer.
        const host = Buffer.alloc(bytes.length + 8);
        bytes.copy(host, offset);
        const r = scanResultResponse(host.subarray(offset, offset + bytes.length));
        if (want === undefined) assert.equal(r, undefined, `taken although JSON.parse refuses: ${JSON.stringify(text)}`);
        else {
          assert.ok(r, `refused although valid: ${JSON.stringify(text)}`);
          assert.equal(r.id, want.id);
          assert.deepEqual(r.result.value(), want.result);
          taken++;
        }
      }
    }
    assert.ok(taken > 1000, `only ${taken} valid samples`);
  });

  it('long strings, skipped in jumps to the next quote, backslash or control byte: agrees with JSON.parse at every alignment', () => {
    // More than 64 plain bytes switch a string to jumps (Buffer.indexOf for quotes and
    // backslashes, a word at a time for control bytes), with positions remembered across
    // strings: several long strings per message, special bytes at random distances.
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const plain = ['p', 'q', 'é', '☕', '😀', ' ', '}', ']', ':', ','];
    const special = ['\\"', '\\\\', '\\n', '\\u00e9', '\\/', '\\u12', '\\q', '\\', '"', '\n', '\r', '\t', '\u0000', '\u001f', '\u007f'];
    let taken = 0;
    let refused = 0;
    for (let k = 0; k < 1500; k++) {
      const strings: string[] = [];
      for (let m = 1 + rnd(3); m > 0; m--) {
        let s = '';
        for (let seg = rnd(4); seg >= 0; seg--) {
          const run = rnd(5) === 0 ? rnd(8) : 40 + rnd(300);
          for (let c = 0; c < run; c++) s += plain[rnd(3) === 0 ? rnd(plain.length) : 0];
          // Most segments end in a valid escape; some in what JSON refuses.
          if (rnd(3) > 0) s += special[rnd(5)];
          else if (rnd(4) === 0) s += special[rnd(special.length)];
        }
        strings.push(s);
      }
      const text = `{"jsonrpc":"2.0","id":${k},"result":{${strings.map((s, m) => `"k${m}":"${s}"`).join(',')},"n":1}}`;
      let want: { id: unknown; result: unknown } | undefined;
      try {
        want = parsed(text);
      } catch {
        want = undefined;
      }
      const bytes = Buffer.from(text);
      for (let offset = 0; offset < 4; offset++) {
        const host = Buffer.alloc(bytes.length + 8);
        bytes.copy(host, offset);
        const r = scanResultResponse(host.subarray(offset, offset + bytes.length));
        if (want === undefined) {
          assert.equal(r, undefined, `taken although JSON.parse refuses: ${JSON.stringify(text)}`);
          refused++;
        } else {
          assert.ok(r, `refused although valid: ${JSON.stringify(text)}`);
          assert.equal(r.id, want.id);
          assert.deepEqual(r.result.value(), want.result);
          taken++;
        }
      }
    }
    assert.ok(taken > 1000 && refused > 1000, `only ${taken} valid and ${refused} invalid samples`);
  });

  it('a raw control byte anywhere in a long string is refused, as JSON.parse refuses it (RFC 8259 §7)', () => {
    // Every control byte, at every offset across the switch to jumps and the word boundaries
    // around it, also after an escape and in a second long string (the remembered positions).
    const long = 'x'.repeat(200);
    for (let at = 0; at < 200; at++) {
      const ctl = String.fromCharCode(at % 32);
      for (const [before, after] of [
        ['', ''],
        [`${long}\\n`, ''],
        ['', `","b":"${long}`],
      ]) {
        const s = `${before}${long.slice(0, at)}${ctl}${long.slice(at)}${after}`;
        const text = `{"jsonrpc":"2.0","id":1,"result":{"a":"${s}"}}`;
        assert.throws(() => JSON.parse(text), SyntaxError);
        for (let offset = 0; offset < 4; offset++) {
          const host = Buffer.alloc(text.length + 8);
          host.write(text, offset);
          assert.equal(
            scanResultResponse(host.subarray(offset, offset + text.length)),
            undefined,
            `control 0x${(at % 32).toString(16)} at ${at} (${before.length}, ${after.length}) offset ${offset}`,
          );
        }
      }
      // The same string with the byte escaped is taken.
      assertSame(`{"jsonrpc":"2.0","id":1,"result":{"a":"${long.slice(0, at)}${JSON.stringify(ctl).slice(1, -1)}${long.slice(at)}"}}`);
    }
    // A control byte outside strings (whitespace) before a long string does not stop it being taken.
    assertSame(`{"jsonrpc":"2.0","id":1,"result":{\n\t"a":\r\n"${long}${long}"\n}}`);
  });

  it('escapes at every offset across the switch to jumps, and invalid UTF-8 inside long strings', () => {
    const long = 'y'.repeat(160);
    for (let at = 40; at < 160; at++)
      for (const esc of ['\\n', '\\"', '\\\\', '\\u00e9', '\\ud83d\\ude00', '\\u12', '\\x', '\\']) {
        const text = `{"jsonrpc":"2.0","id":1,"result":{"a":"${long.slice(0, at)}${esc}${long.slice(at)}","b":"${long}"}}`;
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        if (valid) assertSame(text);
        else assert.equal(scan(text), undefined, `${esc} at ${at}`);
      }
    const wrap = (at: number, bad: number[]) =>
      Buffer.concat([Buffer.from(`{"jsonrpc":"2.0","id":1,"result":{"t":"${long.slice(0, at)}`), Buffer.from(bad), Buffer.from(`${long.slice(at)}"}}`)]);
    for (let at = 0; at < 160; at += 7)
      for (const bad of [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff], [0xe2, 0x98]]) assert.equal(scan(wrap(at, bad)), undefined, `bytes ${bad} at ${at}`);
  });

  it('positions remembered in one message never carry over to the next: a raw control byte the previous scan did not see is refused', () => {
    // The first message leaves its next quote at the closing quote of a long string and its
    // next backslash and control byte at its end; the second has a quote at that very index
    // and raw control bytes before it. Carried over, they would skip the second string to
    // that quote unchecked and relay invalid JSON.
    const head = '{"jsonrpc":"2.0","id":1,"result":{"a":"';
    const first = `${head}${'x'.repeat(1000)}"}}`;
    const quote = first.indexOf('"', head.length);
    for (const raw of [0x01, 0x0a, 0x00, 0x1f].map((c) => String.fromCharCode(c))) {
      for (let at = 70; at < 110; at++) {
        scan(first);
        const body = `${'y'.repeat(at)}${raw}`.padEnd(quote - head.length, 'y');
        const second = `${head}${body}"}}`;
        assert.equal(second.indexOf('"', head.length), quote);
        assert.throws(() => JSON.parse(second), SyntaxError);
        assert.equal(scan(second), undefined, `control ${JSON.stringify(raw)} at ${at} after a longer message`);
      }
    }
    assertSame(first);
  });

  it('stays linear on hostile results: deep nesting, long runs of escapes, an unterminated string, many members', () => {
    const started = performance.now();
    // Nesting JSON.parse could not take (it recurses) is left to the parse path, which fails it as before.
    assertSame(`{"jsonrpc":"2.0","id":1,"result":{"a":${'['.repeat(500)}${']'.repeat(500)}}}`);
    assert.equal(scan(`{"jsonrpc":"2.0","id":1,"result":{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}}`), undefined);
    assert.equal(scan(`{"jsonrpc":"2.0","id":1,"result":{"a":${'[{"b":'.repeat(100_000)}}}`), undefined);
    assertSame(`{"jsonrpc":"2.0","id":1,"result":{"t":"${'\\"'.repeat(1_000_000)}"}}`);
    assert.equal(scan(`{"jsonrpc":"2.0","id":1,"result":{"t":"${'x'.repeat(2_000_000)}}}`), undefined);
    const members = Array.from({ length: 100_000 }, (_, i) => `"k${i}":${i}`).join(',');
    assertSame(`{"jsonrpc":"2.0","id":1,"result":{${members}}}`);
    // Strings long enough to be skipped in jumps: many of them, an escape after each jump, a quote or control byte far away.
    const run = 'z'.repeat(70);
    assertSame(`{"jsonrpc":"2.0","id":1,"result":{"t":[${Array.from({ length: 20_000 }, () => `"${run}"`).join(',')}]}}`);
    assertSame(`{"jsonrpc":"2.0","id":1,"result":{"t":"${`${run}\\n`.repeat(20_000)}"}}`);
    assert.equal(scan(`{"jsonrpc":"2.0","id":1,"result":{"t":"${`${run}\\n`.repeat(20_000)}\u0001"}}`), undefined);
    assert.equal(scan(`{"jsonrpc":"2.0","id":1,"result":{"t":"${`${run}\\n`.repeat(20_000)}}}`), undefined);
    assert.ok(performance.now() - started < 5000, 'took too long');
  });
});

describe('raw results: written under the client id', () => {
  const raw = scan('{"jsonrpc":"2.0","id":"backend-7","result":{"content":[{"type":"text","text":"é"}],"id":"inner"}}')!.result;

  const large = scan(`{"jsonrpc":"2.0","id":"backend-8","result":{"content":[{"type":"text","text":"é${'x'.repeat(2000)}"}],"id":"inner"}}`)!.result;

  it('as text and as bytes, the backend envelope gone and the result as it came', () => {
    for (const id of [3, 'client "quoted" id', 0]) {
      const msg = { jsonrpc: '2.0', id, result: raw };
      const text = messageText(msg);
      assert.deepEqual(JSON.parse(text), { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'é' }], id: 'inner' } });
      // A small result is written as text (one piece with the HTTP head), a large one as its own bytes.
      assert.equal(messageBody(msg), text);
      const big = { jsonrpc: '2.0', id, result: large };
      const body = messageBody(big);
      assert.ok(Array.isArray(body));
      assert.equal(body[1], large.bytes, 'the result bytes themselves, not a copy');
      assert.equal(Buffer.concat(body).toString('utf8'), messageText(big));
      assert.deepEqual(JSON.parse(messageText(big)), { jsonrpc: '2.0', id, result: large.value() });
      assert.equal(JSON.stringify(msg), text.replace(raw.text(), JSON.stringify(raw.value())), 'JSON.stringify still writes valid JSON');
    }
  });

  it('plain messages and batches are written by JSON.stringify, RawJson results included', () => {
    const plain = { jsonrpc: '2.0', id: 1, result: { a: 1 } };
    assert.equal(messageText(plain), JSON.stringify(plain));
    assert.equal(messageBody(plain), JSON.stringify(plain));
    const batch = [plain, { jsonrpc: '2.0', id: 2, result: raw }];
    assert.deepEqual(JSON.parse(messageBody(batch) as string), [plain, { jsonrpc: '2.0', id: 2, result: raw.value() }]);
  });
});

describe('raw results: memory freed once written (release)', () => {
  const message = (n: number) => `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"${'x'.repeat(n)}"}]}}`;
  /** A buffer of its own, as a transport joins the chunks of one message (Buffer.concat: a new ArrayBuffer at this size). */
  const own = (text: string) => Buffer.concat([Buffer.from(text.slice(0, 10)), Buffer.from(text.slice(10))]);

  it('frees a result whose bytes the message owns (Node 20 too); reading it afterwards throws instead of giving other bytes', () => {
    const b = own(message(100_000)); // above half of Buffer.poolSize (64 KiB on Node 24): not a pool slice
    assert.equal(b.buffer.byteLength, b.length, 'the fixture owns its ArrayBuffer');
    const r = scanResultResponse(b, true);
    assert.ok(r);
    assert.equal(r.result.freeable, true);
    r.result.release();
    assert.equal(r.result.freeable, false);
    assert.equal(b.buffer.byteLength, 0, 'detached: the memory is freed');
    assert.throws(() => r.result.bytes, /read after release/);
    assert.throws(() => r.result.text(), /read after release/);
    assert.throws(() => messageBody({ jsonrpc: '2.0', id: 2, result: r.result }), /read after release/);
    r.result.release(); // twice: nothing more happens
  });

  it('never frees bytes it does not own: without the flag, or a slice of a larger buffer (a read or the Buffer pool)', () => {
    const text = message(100_000);
    const shared = Buffer.concat([Buffer.from('{"other":"message"}\n'), Buffer.from(text)]);
    const slice = shared.subarray(20);
    for (const [b, owned] of [
      [own(text), false],
      [slice, true],
    ] as const) {
      const r = scanResultResponse(b, owned);
      assert.ok(r);
      assert.equal(r.result.freeable, false);
      r.result.release();
      assert.equal(b.buffer.byteLength > 0, true, 'not detached');
      assert.deepEqual(r.result.value(), (JSON.parse(text) as { result: unknown }).result);
    }
    assert.equal(shared.subarray(0, 19).toString(), '{"other":"message"}', 'the other message is intact');
  });
});
