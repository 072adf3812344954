/** JSON or YAML text → a value, for OpenAPI documents and the documents their `$ref`s name. */
import { parse as parseYaml } from 'yaml';
import { SpecLoadError } from './spec-error.js';

export function parseDocumentText(text: string, source: string): unknown {
  try {
    // maxAliasCount: a YAML alias bomb ("billion laughs") stops here instead of filling memory.
    return /^\s*\{/.test(text) ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 1000 });
  } catch (err) {
    throw new SpecLoadError(`${source}: not JSON or YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

export function parseSpecText(text: string, source: string): Record<string, unknown> {
  const doc = parseDocumentText(text, source);
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new SpecLoadError(`${source}: not an OpenAPI document (expected an object)`);
  return doc as Record<string, unknown>;
}
