/** The 2026-07-28 envelope and header rules (src/protocol/modern.ts), one rule per case. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GatewayError } from '../../../src/errors/catalog.js';
import type { JsonRpcRequest } from '../../../src/wire/jsonrpc.js';
import {
  checkParamHeaders,
  checkStandardHeaders,
  decodeHeaderValue,
  encodeHeaderValue,
  nameHeaderOf,
  paramHeaderValues,
  paramHeadersOf,
  pathKeys,
  readEnvelope,
  scanParamHeaders,
  withoutEnvelope,
} from '../../../src/wire/stateless.js';

const V = 'io.modelcontextprotocol/protocolVersion';
const C = 'io.modelcontextprotocol/clientCapabilities';
const req = (method: string, params: Record<string, unknown> = {}): JsonRpcRequest => ({ jsonrpc: '2.0', id: 1, method, params });
const withMeta = (meta: Record<string, unknown>, method = 'tools/list', extra: Record<string, unknown> = {}) => req(method, { ...extra, _meta: meta });

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    return err.code;
  }
}

describe('the request envelope', () => {
  it('reads version, capabilities, client info and log level', () => {
    const env = readEnvelope(
      withMeta({ [V]: '2026-07-28', [C]: { sampling: {} }, 'io.modelcontextprotocol/clientInfo': { name: 'c', version: '1' }, 'io.modelcontextprotocol/logLevel': 'info' }),
      '2026-07-28',
    );
    assert.deepEqual(env, { protocolVersion: '2026-07-28', capabilities: { sampling: {} }, clientInfo: { name: 'c', version: '1' }, logLevel: 'info' });
  });

  it('treats clientInfo as optional', () => {
    assert.equal(readEnvelope(withMeta({ [V]: '2026-07-28', [C]: {} }), undefined).clientInfo.name, 'unknown');
  });

  it("refuses each broken envelope with its own code, in the revision's order", () => {
    assert.equal(
      code(() => readEnvelope(req('tools/list'), '2026-07-28')),
      'MCPEG_ERR_INVALID_ENVELOPE',
    );
    assert.equal(
      code(() => readEnvelope(withMeta({ [C]: {} }), '2026-07-28')),
      'MCPEG_ERR_INVALID_ENVELOPE',
    );
    assert.equal(
      code(() => readEnvelope(withMeta({ [V]: 7, [C]: {} }), '2026-07-28')),
      'MCPEG_ERR_INVALID_ENVELOPE',
    );
    assert.equal(
      code(() => readEnvelope(withMeta({ [V]: '2026-07-28', [C]: {} }), null)),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
    assert.equal(
      code(() => readEnvelope(withMeta({ [V]: '2026-07-28', [C]: {} }), '2025-11-25')),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
    assert.equal(
      code(() => readEnvelope(withMeta({ [V]: 'v999.0.0', [C]: {} }), 'v999.0.0')),
      'MCPEG_ERR_UNSUPPORTED_PROTOCOL_VERSION',
    );
    assert.equal(
      code(() => readEnvelope(withMeta({ [V]: '2026-07-28' }), '2026-07-28')),
      'MCPEG_ERR_INVALID_ENVELOPE',
    );
    assert.equal(
      code(() => readEnvelope(withMeta({ [V]: '2026-07-28', [C]: [] }), '2026-07-28')),
      'MCPEG_ERR_INVALID_ENVELOPE',
    );
  });

  it('names the supported versions when it refuses one', () => {
    try {
      readEnvelope(withMeta({ [V]: '2099-01-01', [C]: {} }), undefined);
      assert.fail('accepted');
    } catch (err) {
      assert.deepEqual((err as GatewayError).toJsonRpc().data, { mcpegCode: 'MCPEG_ERR_UNSUPPORTED_PROTOCOL_VERSION', supported: ['2026-07-28'], requested: '2099-01-01' });
      assert.equal((err as GatewayError).toJsonRpc().code, -32022);
    }
  });

  it("strips the client's envelope keys and keeps the rest of _meta", () => {
    assert.deepEqual(withoutEnvelope({ name: 't', _meta: { [V]: '2026-07-28', [C]: {}, progressToken: 3 } }), { name: 't', _meta: { progressToken: 3 } });
    assert.deepEqual(withoutEnvelope({ name: 't', _meta: { [V]: '2026-07-28' } }), { name: 't' });
    const untouched = { name: 't', _meta: { progressToken: 1 } };
    assert.equal(withoutEnvelope(untouched), untouched);
  });
});

describe('standard headers (SEP-2243)', () => {
  it('needs Mcp-Method equal to the method, case-sensitive', () => {
    assert.equal(
      code(() => checkStandardHeaders(req('tools/list'), 'tools/list', undefined)),
      undefined,
    );
    assert.equal(
      code(() => checkStandardHeaders(req('tools/list'), undefined, undefined)),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
    assert.equal(
      code(() => checkStandardHeaders(req('tools/list'), 'TOOLS/LIST', undefined)),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
  });

  it('needs Mcp-Name for tools/call, prompts/get and resources/read, trimmed and decoded', () => {
    const call = req('tools/call', { name: 'echo' });
    assert.equal(
      code(() => checkStandardHeaders(call, 'tools/call', undefined)),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
    assert.equal(
      code(() => checkStandardHeaders(call, 'tools/call', '  echo  ')),
      undefined,
    );
    assert.equal(
      code(() => checkStandardHeaders(call, 'tools/call', '=?base64?ZWNobw==?=')),
      undefined,
    );
    assert.equal(
      code(() => checkStandardHeaders(call, 'tools/call', 'other')),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
    assert.equal(
      code(() => checkStandardHeaders(req('resources/read', { uri: 'a://b' }), 'resources/read', 'a://b')),
      undefined,
    );
    assert.equal(
      code(() => checkStandardHeaders(req('completion/complete', { ref: {} }), 'completion/complete', undefined)),
      undefined,
    );
  });

  it('decodes only canonical base64 and treats a value without both markers literally', () => {
    assert.equal(decodeHeaderValue('=?base64?SGVsbG8=?='), 'Hello');
    assert.equal(decodeHeaderValue('=?base64?SGVsbG8?='), undefined); // padding
    assert.equal(decodeHeaderValue('=?base64?SGVs!!!bG8=?='), undefined); // alphabet
    assert.equal(decodeHeaderValue('SGVsbG8='), 'SGVsbG8=');
    assert.equal(decodeHeaderValue('=?base64?SGVsbG8='), '=?base64?SGVsbG8=');
  });

  it('encodes what is not plain visible ASCII, and round-trips', () => {
    for (const v of ['plain', 'héllo', ' padded ', '', '=?base64?x?=', 'tab\there']) {
      const e = encodeHeaderValue(v);
      assert.equal(decodeHeaderValue(e), v, e);
    }
    assert.equal(encodeHeaderValue('plain'), 'plain');
    assert.equal(nameHeaderOf('prompts/get', { name: 'ünï' }), `=?base64?${Buffer.from('ünï').toString('base64')}?=`);
    assert.equal(nameHeaderOf('tools/list', {}), undefined);
  });

  it('mirrors x-mcp-header arguments into Mcp-Param headers and checks them', () => {
    const tool = { name: 't', inputSchema: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' }, n: { type: 'integer' } } } };
    const spec = paramHeadersOf(tool);
    assert.deepEqual(
      spec.map((p) => ({ ...p, path: pathKeys(p.path) })),
      [{ path: ['region'], header: 'Region', numeric: false }],
    );
    assert.equal(paramHeadersOf(tool), spec, 'cached per tool');
    assert.deepEqual(paramHeaderValues(spec, { region: 'eu west', n: 1 }), { 'mcp-param-region': 'eu west' });
    const headers = (h: Record<string, string>) => (name: string) => h[name];
    assert.equal(
      code(() => checkParamHeaders(spec, { region: 'eu' }, headers({ 'mcp-param-region': 'eu' }))),
      undefined,
    );
    assert.equal(
      code(() => checkParamHeaders(spec, { region: 'eu' }, headers({}))),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
    assert.equal(
      code(() => checkParamHeaders(spec, { region: 'eu' }, headers({ 'mcp-param-region': 'us' }))),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
    assert.equal(
      code(() => checkParamHeaders(spec, { region: 'Hello' }, headers({ 'mcp-param-region': '=?base64?SGVsbG8?=' }))),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
    assert.equal(
      code(() => checkParamHeaders(spec, {}, headers({}))),
      undefined,
      'absent argument, nothing to mirror',
    );
  });

  const headers = (h: Record<string, string>) => (name: string) => h[name];
  const nested = {
    type: 'object',
    properties: {
      target: { type: 'object', properties: { zone: { type: 'string', 'x-mcp-header': 'Zone' } } },
      count: { type: 'integer', 'x-mcp-header': 'Count' },
      ratio: { type: 'number', 'x-mcp-header': 'Ratio' },
      dry: { type: 'boolean', 'x-mcp-header': 'Dry-Run' },
    },
  };

  it('finds declarations at any depth under properties, and mirrors each scalar as the SDKs do', () => {
    const spec = paramHeadersOf({ name: 'n', inputSchema: nested });
    assert.deepEqual(
      spec.map((p) => [pathKeys(p.path).join('.'), p.header, p.numeric]),
      [
        ['target.zone', 'Zone', false],
        ['count', 'Count', true],
        ['ratio', 'Ratio', true],
        ['dry', 'Dry-Run', false],
      ],
    );
    assert.deepEqual(paramHeaderValues(spec, { target: { zone: 'eu-1' }, count: 42, ratio: 0.5, dry: false }), {
      'mcp-param-zone': 'eu-1',
      'mcp-param-count': '42',
      'mcp-param-ratio': '0.5',
      'mcp-param-dry-run': 'false',
    });
    // Absent, null, not a scalar, not finite, an integer past 2^53: no header.
    assert.equal(paramHeaderValues(spec, { target: 'eu-1', count: null, ratio: Number.NaN, dry: [true] }), undefined);
    assert.equal(paramHeaderValues(spec, { count: 2 ** 60 }), undefined);
    // Own properties only: a path through the prototype finds nothing.
    assert.equal(
      paramHeaderValues(paramHeadersOf({ name: 'p', inputSchema: { type: 'object', properties: { toString: { type: 'string', 'x-mcp-header': 'T' } } } }), {}),
      undefined,
    );
  });

  it('checks nested and numeric headers: 42.0 agrees with 42, 0x2a and 4.2e1 do not', () => {
    const spec = paramHeadersOf({ name: 'n', inputSchema: nested });
    const ok = (args: unknown, h: Record<string, string>) => code(() => checkParamHeaders(spec, args, headers(h)));
    assert.equal(ok({ target: { zone: 'eu' } }, { 'mcp-param-zone': 'eu' }), undefined);
    assert.equal(ok({ target: { zone: 'eu' } }, {}), 'MCPEG_ERR_HEADER_MISMATCH', 'a nested argument needs its header');
    assert.equal(ok({ target: { zone: 'eu' } }, { 'mcp-param-zone': 'us' }), 'MCPEG_ERR_HEADER_MISMATCH');
    assert.equal(ok({ count: 42 }, { 'mcp-param-count': '42.0' }), undefined);
    assert.equal(ok({ count: 42 }, { 'mcp-param-count': '42' }), undefined);
    for (const bad of ['0x2a', '4.2e1', '+42', '43']) assert.equal(ok({ count: 42 }, { 'mcp-param-count': bad }), 'MCPEG_ERR_HEADER_MISMATCH', bad);
    assert.equal(ok({ ratio: 0.5 }, { 'mcp-param-ratio': '0.50' }), undefined);
    assert.equal(ok({ dry: true }, { 'mcp-param-dry-run': 'true' }), undefined);
    assert.equal(ok({ dry: true }, { 'mcp-param-dry-run': 'True' }), 'MCPEG_ERR_HEADER_MISMATCH');
    // A header without its argument is not expected, and not checked.
    assert.equal(ok({}, { 'mcp-param-count': '7' }), undefined);
  });

  it('does not expect a header for an integer past 2^53, as the SDK v2 client sends none and its server checks none', () => {
    const spec = paramHeadersOf({ name: 'n', inputSchema: nested });
    const ok = (args: unknown, h: Record<string, string>) => code(() => checkParamHeaders(spec, args, headers(h)));
    assert.equal(ok({ count: 2 ** 60 }, {}), undefined);
    assert.equal(ok({ count: 1e21 }, { 'mcp-param-count': '1' }), undefined);
  });

  it('ignores spaces and tabs around a header value, not U+00A0 (a 0xA0 byte, which String.trim() removes)', () => {
    const spec = paramHeadersOf({ name: 'n', inputSchema: nested });
    const ok = (args: unknown, h: Record<string, string>) => code(() => checkParamHeaders(spec, args, headers(h)));
    assert.equal(ok({ target: { zone: 'eu' } }, { 'mcp-param-zone': ' \teu\t ' }), undefined);
    assert.equal(ok({ target: { zone: 'eu' } }, { 'mcp-param-zone': '\u00a0eu\u00a0' }), 'MCPEG_ERR_HEADER_MISMATCH');
    const call = { jsonrpc: '2.0' as const, id: 1, method: 'tools/call', params: { name: 't' } };
    assert.equal(
      code(() => checkStandardHeaders(call, 'tools/call', '\u00a0t')),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
    assert.equal(
      code(() => checkStandardHeaders(call, '\u00a0tools/call', 't')),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
    assert.equal(
      code(() => checkStandardHeaders(call, '\ttools/call ', ' t\t')),
      undefined,
    );
  });

  it('reaches an argument through an array, as the SDKs walk a path (own properties only)', () => {
    const spec = paramHeadersOf({
      name: 'a',
      inputSchema: { type: 'object', properties: { a: { type: 'object', properties: { '0': { type: 'string', 'x-mcp-header': 'First' } } } } },
    });
    assert.deepEqual(paramHeaderValues(spec, { a: ['eu'] }), { 'mcp-param-first': 'eu' });
    assert.equal(
      code(() => checkParamHeaders(spec, { a: ['eu'] }, headers({}))),
      'MCPEG_ERR_HEADER_MISMATCH',
    );
  });

  it('finds a number-typed declaration invalid (a client leaves the tool out) but still checks it, as the SDK v2 server does', () => {
    const scan = scanParamHeaders(nested);
    assert.equal(scan.valid, false);
    assert.match(scan.valid ? '' : scan.reason, /^ratio: .*not number/);
    assert.equal(paramHeadersOf({ name: 'n', inputSchema: nested }).length, 4);
    // Another fault as well: nothing is checked, and the number is named first, as the SDK does.
    const both = { type: 'object', properties: { r: { type: 'number', 'x-mcp-header': 'R' }, s: { type: 'string', 'x-mcp-header': 'r' } } };
    assert.deepEqual(scanParamHeaders(both), { valid: false, reason: 'r: x-mcp-header is only allowed on string, integer or boolean properties (not number)' });
  });

  it("keeps a scan's memory linear in the schema: 50,000 declarations 60 levels deep share their path", () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const leaves: Record<string, unknown> = {};
    for (let i = 0; i < 50_000; i++) leaves[`k${i}`] = { type: 'string', 'x-mcp-header': `h${i}` };
    let schema: Record<string, unknown> = { type: 'object', properties: leaves };
    for (let d = 0; d < 60; d++) schema = { type: 'object', properties: { a: schema } };
    gc();
    const before = process.memoryUsage().heapUsed;
    const scan = scanParamHeaders(schema);
    gc();
    const kept = process.memoryUsage().heapUsed - before;
    assert.equal(scan.valid && scan.params.length, 50_000);
    assert.deepEqual(pathKeys(scan.valid ? scan.params[49_999].path : undefined).slice(-2), ['a', 'k49999']);
    // A copied path per declaration kept ~25 MB (61 keys each); shared, a few MB.
    assert.ok(kept < 10 * 1024 * 1024, `the scan kept ${(kept / 1048576).toFixed(1)} MB`);
  });

  it('finds a definition invalid as SEP-2243 does, and then neither mirrors nor checks it', () => {
    const bad: Array<[string, unknown]> = [
      ['empty name', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': '' } } }],
      ['not a string', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 7 } } }],
      ['space in name', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'My Region' } } }],
      ['colon in name', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'A:B' } } }],
      ['CR LF in name', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'A\r\nX-Evil' } } }],
      ['non-ASCII name', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'Régión' } } }],
      ['object type', { type: 'object', properties: { a: { type: 'object', 'x-mcp-header': 'A' } } }],
      ['array type', { type: 'object', properties: { a: { type: 'array', 'x-mcp-header': 'A' } } }],
      ['no type', { type: 'object', properties: { a: { 'x-mcp-header': 'A' } } }],
      ['duplicate, other case', { type: 'object', properties: { a: { type: 'string', 'x-mcp-header': 'MyField' }, b: { type: 'string', 'x-mcp-header': 'myfield' } } }],
      ['under items', { type: 'object', properties: { a: { type: 'array', items: { type: 'string', 'x-mcp-header': 'A' } } } }],
      ['under anyOf', { type: 'object', anyOf: [{ properties: { a: { type: 'string', 'x-mcp-header': 'A' } } }] }],
      ['under $defs', { type: 'object', $defs: { d: { type: 'string', 'x-mcp-header': 'A' } } }],
      ['on the root', { type: 'string', 'x-mcp-header': 'A' }],
    ];
    for (const [why, inputSchema] of bad) {
      const scan = scanParamHeaders(inputSchema);
      assert.equal(scan.valid, false, why);
      assert.deepEqual(paramHeadersOf({ name: why, inputSchema }), [], why);
    }
    // A schema nested past the bound is invalid, not a stack overflow.
    let deep: Record<string, unknown> = { type: 'string', 'x-mcp-header': 'Deep' };
    for (let i = 0; i < 100_000; i++) deep = { type: 'object', properties: { p: deep } };
    assert.match((scanParamHeaders(deep) as { reason: string }).reason, /deeper than 64/);
    assert.equal(scanParamHeaders({ type: 'object', properties: { a: { type: 'string' } } }).valid, true);
  });
});
