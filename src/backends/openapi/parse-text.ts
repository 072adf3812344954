/** JSON or YAML text → a value, for OpenAPI documents and the documents their `$ref`s name. */
import { type Document, isScalar, parseDocument, visit } from 'yaml';
import { SpecLoadError } from './spec-error.js';

export function parseDocumentText(text: string, source: string): unknown {
  if (/^\s*\{/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new SpecLoadError(`${source}: not JSON or YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  let value: unknown;
  try {
    // schema 'core' whatever the document declares: `%YAML 1.1` turned on merge keys (`<<: *a`),
    // which copy every key of the mapping merged while parsing, before the bound below (990
    // merges of a 20,000-key mapping, 240 KB: 11 s). OpenAPI documents are YAML 1.2, where `<<`
    // is a plain key, as in a document without the directive.
    // uniqueKeys: false, then checked below: the parser compares each key of a mapping with
    // every key before it (a 100,000-key mapping, 1.2 MB: 96 s; 5 MB: half an hour).
    const doc = parseDocument(text, { schema: 'core', uniqueKeys: false });
    if (doc.errors.length) throw doc.errors[0];
    const dup = duplicateKey(doc);
    if (dup !== undefined) throw new Error(`Map keys must be unique: ${JSON.stringify(dup).slice(0, 200)}`);
    // maxAliasCount: a YAML alias bomb ("billion laughs") stops here instead of filling memory.
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new SpecLoadError(`${source}: not JSON or YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  // An alias is the node it names, shared: whatever walks the document (validation, conversion)
  // walks it once per alias. maxAliasCount bounds the aliases, not what each stands for: 900
  // aliases of one large mapping made a 36 KB document validate as 900,000 nodes (seconds; a
  // 20 MB one, tens of minutes of a blocked event loop). Without aliases a document has fewer
  // nodes than characters; with them it may have a few times more, no further.
  const limit = 2 * text.length + 10_000;
  if (!withinNodes(value, limit))
    throw new SpecLoadError(`${source}: its YAML aliases expand to more than ${limit} nodes (twice its length); write the shared parts once as $refs`);
  return value;
}

/** Whether `v`, walked as a tree (shared objects once per place they appear), has at most `limit` nodes; stops counting past it. */
function withinNodes(v: unknown, limit: number): boolean {
  let n = 0;
  const stack: unknown[] = [v];
  while (stack.length) {
    const x = stack.pop();
    if (++n > limit) return false;
    if (x && typeof x === 'object') for (const y of Array.isArray(x) ? x : Object.values(x)) stack.push(y);
  }
  return true;
}

export function parseSpecText(text: string, source: string): Record<string, unknown> {
  const doc = parseDocumentText(text, source);
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new SpecLoadError(`${source}: not an OpenAPI document (expected an object)`);
  return doc as Record<string, unknown>;
}

/** A scalar key written twice in one mapping (as the parser's own check finds, in one pass per mapping), if any. */
function duplicateKey(doc: Document): unknown {
  let found: unknown;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (seen.has(key.value)) {
          found = key.value;
          return visit.BREAK;
        }
        seen.add(key.value);
      }
      return undefined;
    },
  });
  return found;
}
