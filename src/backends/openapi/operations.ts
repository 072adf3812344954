/** Walks an OpenAPI document's operations with their parameters resolved and merged. */
import { pointerGet } from '../../config/template.js';

export const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'] as const;

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  description?: string;
  deprecated?: boolean;
  schema?: Record<string, unknown>;
  content?: Record<string, { schema?: Record<string, unknown> }>;
  style?: string;
  explode?: boolean;
}

export interface OperationObject {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  deprecated?: boolean;
  parameters?: unknown[];
  requestBody?: unknown;
  responses?: Record<string, unknown>;
}

export interface Operation {
  path: string;
  method: (typeof OPERATION_METHODS)[number];
  /** JSON pointer of the operation object. */
  pointer: string;
  op: OperationObject;
  /** Path-level and operation-level parameters, `$ref`s resolved, the operation's winning (OpenAPI §4.8.10.1). */
  parameters: Parameter[];
}

/** Follows internal `$ref`s (a chain, bounded); an unresolvable ref yields undefined. */
export function deref<T>(doc: unknown, v: unknown): T | undefined {
  let cur = v;
  for (let hops = 0; hops < 32; hops++) {
    const ref = cur && typeof cur === 'object' ? (cur as Record<string, unknown>).$ref : undefined;
    if (typeof ref !== 'string') return cur as T;
    if (!ref.startsWith('#')) return undefined;
    cur = pointerGet(doc, decodeURIComponent(ref.slice(1)));
  }
  return undefined;
}

export function forEachOperation(doc: Record<string, unknown>, f: (op: Operation) => void): void {
  const paths = (doc.paths ?? {}) as Record<string, unknown>;
  for (const [path, rawItem] of Object.entries(paths)) {
    const item = deref<Record<string, unknown>>(doc, rawItem);
    if (!item || typeof item !== 'object') continue;
    const shared = params(doc, item.parameters);
    for (const method of OPERATION_METHODS) {
      const op = item[method] as OperationObject | undefined;
      if (!op || typeof op !== 'object') continue;
      const own = params(doc, op.parameters);
      const merged = new Map<string, Parameter>();
      for (const p of [...shared, ...own]) merged.set(`${p.in}:${p.name}`, p);
      f({ path, method, pointer: `/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}/${method}`, op, parameters: [...merged.values()] });
    }
  }
}

function params(doc: unknown, list: unknown): Parameter[] {
  if (!Array.isArray(list)) return [];
  return list.map((p) => deref<Parameter>(doc, p)).filter((p): p is Parameter => !!p && typeof p.name === 'string' && typeof p.in === 'string');
}
