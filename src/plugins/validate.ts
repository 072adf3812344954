/** JSON Schema validation for plugin config and tool arguments (Ajv, compiled once). */
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its default export is the function under ESM interop.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, coerceTypes: false });
  addFormats(ajv);
  return ajv;
}

/** "`/path`: message" for each error, the way config errors name their key. */
export function describeAjvErrors(errors: ErrorObject[] | null | undefined, base = ''): string {
  if (!errors?.length) return 'invalid';
  return errors
    .map((e) => {
      const where = `${base}${e.instancePath.replace(/\//g, '.').replace(/^\./, base ? '.' : '')}` || '(root)';
      const extra = e.keyword === 'additionalProperties' ? ` "${(e.params as { additionalProperty: string }).additionalProperty}"` : e.keyword === 'enum' ? `: ${JSON.stringify((e.params as { allowedValues: unknown }).allowedValues)}` : '';
      return `${where}: ${e.message}${extra}`;
    })
    .join('; ');
}
