/**
 * JSON Schema validation for plugin config and tool schemas (Ajv, compiled once). Tool
 * schemas default to JSON Schema 2020-12 (MCP 2025-11-25, "JSON Schema Usage"); a schema
 * that names draft-07 in `$schema` is accepted too.
 */
import { createRequire } from 'node:module';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its default export is the function under ESM interop.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const draft7 = createRequire(import.meta.url)('ajv/dist/refs/json-schema-draft-07.json') as Record<string, unknown>;

export type SchemaValidator = Ajv2020;

export function createAjv(): Ajv2020 {
  // ownProperties: arguments are client input; an absent "constructor" or "toString" must be absent, not Object.prototype's.
  const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false, ownProperties: true });
  ajv.addMetaSchema(draft7);
  addFormats(ajv);
  return ajv;
}

/** "`/path`: message" for each error, the way config errors name their key. */
export function describeAjvErrors(errors: ErrorObject[] | null | undefined, base = ''): string {
  if (!errors?.length) return 'invalid';
  return errors
    .map((e) => {
      const where = `${base}${e.instancePath.replace(/\//g, '.').replace(/^\./, base ? '.' : '')}` || '(root)';
      const extra =
        e.keyword === 'additionalProperties'
          ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"`
          : e.keyword === 'enum'
            ? `: ${JSON.stringify((e.params as { allowedValues: unknown }).allowedValues)}`
            : '';
      return `${where}: ${e.message}${extra}`;
    })
    .join('; ');
}
