/** OpenAPI → tool conversion details that the e2e fixtures do not all reach. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertSpec } from '../../../../src/backends/openapi/convert.js';
import { SchemaConverter } from '../../../../src/backends/openapi/schema.js';
import { parseTemplate, pointerGet, TemplateError } from '../../../../src/config/template.js';
import { createAjv } from '../../../../src/util/json-schema.js';

const doc = (extra: Record<string, unknown>, v = '3.0.3') => ({ openapi: v, info: { title: 't', version: '1' }, paths: {}, ...extra });

describe('schema conversion', () => {
  it('maps OpenAPI 3.0 nullable and boolean exclusive bounds to JSON Schema', () => {
    const c = new SchemaConverter(doc({}));
    const s = c.convert({
      type: 'object',
      properties: {
        a: { type: 'string', nullable: true },
        n: { type: 'integer', minimum: 1, exclusiveMinimum: true, format: 'int32' },
        e: { type: 'string', enum: ['x'], nullable: true },
      },
    });
    const ajv = createAjv();
    const ok = ajv.compile(s);
    assert.equal(ok({ a: null, n: 2, e: null }), true);
    assert.equal(ok({ n: 1 }), false, 'exclusiveMinimum: true with minimum 1 excludes 1');
    assert.deepEqual((s.properties as Record<string, unknown>).n, { type: 'integer', exclusiveMinimum: 1 }, 'OpenAPI-only format int32 dropped');
  });

  it('keeps recursive component schemas finite through $defs', () => {
    const d = doc({
      components: { schemas: { Node: { type: 'object', properties: { value: { type: 'string' }, children: { type: 'array', items: { $ref: '#/components/schemas/Node' } } } } } },
    });
    const c = new SchemaConverter(d);
    const s = c.withDefs(c.convert({ $ref: '#/components/schemas/Node' }));
    assert.equal(s.$ref, '#/$defs/Node');
    JSON.stringify(s); // no cycles
    const ok = createAjv().compile(s);
    assert.equal(ok({ value: 'a', children: [{ value: 'b', children: [] }] }), true);
    assert.equal(ok({ value: 'a', children: [{ value: 3 }] }), false);
  });

  it('only the components a schema uses are attached', () => {
    const d = doc({ components: { schemas: { A: { type: 'string' }, B: { type: 'integer' } } } });
    const c = new SchemaConverter(d);
    c.convert({ $ref: '#/components/schemas/B' });
    const s = c.withDefs(c.convert({ type: 'object', properties: { a: { $ref: '#/components/schemas/A' } } }));
    assert.deepEqual(Object.keys(s.$defs as object), ['A']);
  });
});

describe('operation conversion', () => {
  const spec = doc({
    paths: {
      '/items/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        put: {
          operationId: 'update item!',
          parameters: [
            { name: 'id', in: 'query', schema: { type: 'integer' } },
            { name: 'sid', in: 'cookie', schema: { type: 'string' } },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } } } },
          responses: { 200: { description: 'ok', content: { 'application/json': { schema: { type: 'array', items: { type: 'string' } } } } } },
        },
      },
      '/raw': { post: { requestBody: { content: { 'application/xml': { schema: { type: 'string' } } } }, responses: { 204: { description: 'none' } } } },
    },
  });
  const { tools, notes } = convertSpec(spec);

  it('names tools from operationId (sanitised) or method and path', () => {
    assert.deepEqual(Object.keys(tools).sort(), ['post_raw', 'update_item']);
  });

  it('keeps path names, renames colliding parameters, folds the JSON body and wraps a non-object response', () => {
    const t = tools.update_item as Record<string, any>;
    assert.equal(t.path, '/items/{id}');
    assert.deepEqual(t.query, { id: '{id_query}' });
    assert.deepEqual(Object.keys(t.input_schema.properties), ['id', 'id_query', 'name']);
    assert.deepEqual(t.input_schema.required, ['id', 'name']);
    assert.deepEqual(t.body, { encoding: 'json', fields: ['name'] });
    assert.deepEqual(t.response, { wrap: true });
    assert.deepEqual(t.output_schema, { type: 'object', properties: { result: { type: 'array', items: { type: 'string' } } }, required: ['result'] });
    assert.ok(notes.some((n) => /cookie parameter "sid"/.test(n)));
  });

  it('sends other media types as text with their content type', () => {
    const t = tools.post_raw as Record<string, any>;
    assert.deepEqual(t.body, { encoding: 'text', arg: 'body' });
    assert.deepEqual(t.headers, { 'Content-Type': 'application/xml' });
    assert.equal(t.output_schema, undefined);
  });

  it('include and exclude select by tag or operationId', () => {
    assert.deepEqual(Object.keys(convertSpec(spec, { include: { tags: [], operations: ['update item!'] } }).tools), ['update_item']);
    assert.deepEqual(Object.keys(convertSpec(spec, { exclude: { tags: [], operations: ['post_raw'] } }).tools), ['update_item']);
  });
});

describe('templates', () => {
  it('parses placeholders and escapes, and names what is wrong', () => {
    assert.deepEqual(parseTemplate('/a/{id}/{{x}}'), [{ lit: '/a/' }, { ref: 'id' }, { lit: '/{x}' }]);
    assert.throws(
      () => parseTemplate('/a/{id'),
      (e: Error) => e instanceof TemplateError && /unclosed "\{" at position 4/.test(e.message),
    );
    assert.throws(() => parseTemplate('/a/}'), /unmatched "\}"/);
    assert.throws(() => parseTemplate('{}'), /empty placeholder/);
  });

  it('JSON pointers follow RFC 6901 escapes', () => {
    const v = { 'a/b': { '~k': [10, 20] } };
    assert.equal(pointerGet(v, '/a~1b/~0k/1'), 20);
    assert.equal(pointerGet(v, '/missing'), undefined);
    assert.equal(pointerGet(v, ''), v);
  });
});
