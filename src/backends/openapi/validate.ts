/**
 * Checks an OpenAPI document and reports each problem at its JSON pointer: structure
 * against the official OpenAPI 3.0 / 3.1 schemas (@seriousme/openapi-schema-validator),
 * then what a schema cannot say: `$ref`s that resolve, path template parameters that
 * are declared (OpenAPI 3.1 §4.8.12.1: path parameters are required and must appear in
 * the template), unique operationIds.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { pointerGet } from '../../config/template.js';
import { forEachOperation } from './operations.js';

export interface SpecProblem {
  pointer: string;
  message: string;
  severity: 'error' | 'warning';
}

export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

export async function validateSpec(doc: Record<string, unknown>, opts: { remoteRefs?: boolean } = {}): Promise<SpecProblem[]> {
  const problems: SpecProblem[] = [];
  const version = typeof doc.openapi === 'string' ? doc.openapi : undefined;
  if (!version || !/^3\.[01]\.\d+/.test(version)) {
    const was = typeof doc.swagger === 'string' ? `Swagger ${doc.swagger}; convert it to OpenAPI 3 first` : `openapi: ${JSON.stringify(doc.openapi)}`;
    return [{ pointer: '/openapi', message: `expected an OpenAPI 3.0 or 3.1 document, got ${was}`, severity: 'error' }];
  }
  const result = await new Validator({ allErrors: true }).validate(structuredClone(doc) as never);
  if (!result.valid && Array.isArray(result.errors)) {
    const seen = new Set<string>();
    for (const e of result.errors as Array<{ instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }>) {
      const detail =
        e.keyword === 'additionalProperties'
          ? ` ("${String(e.params.additionalProperty)}")`
          : e.keyword === 'unevaluatedProperties'
            ? ` ("${String(e.params.unevaluatedProperty)}")`
            : '';
      const msg = `${e.message ?? e.keyword}${detail}`;
      const key = `${e.instancePath} ${msg}`;
      if (seen.has(key)) continue;
      seen.add(key);
      problems.push({ pointer: e.instancePath || '/', message: msg, severity: 'error' });
    }
  }
  checkRefs(doc, doc, '', problems, opts.remoteRefs ?? false);
  const ids = new Map<string, string>();
  forEachOperation(doc, (op) => {
    const declared = new Set(op.parameters.filter((p) => p.in === 'path').map((p) => p.name));
    for (const m of op.path.matchAll(/\{([^{}]+)\}/g)) {
      if (!declared.has(m[1]))
        problems.push({ pointer: op.pointer, message: `path parameter {${m[1]}} of ${op.path} is not declared in parameters (in: path)`, severity: 'error' });
    }
    for (const p of op.parameters) {
      if (p.in === 'path' && !op.path.includes(`{${p.name}}`))
        problems.push({ pointer: op.pointer, message: `parameter "${p.name}" is declared in: path but ${op.path} has no {${p.name}}`, severity: 'error' });
    }
    if (op.op.operationId) {
      const prev = ids.get(op.op.operationId);
      if (prev) problems.push({ pointer: `${op.pointer}/operationId`, message: `operationId "${op.op.operationId}" is also used at ${prev}`, severity: 'error' });
      else ids.set(op.op.operationId, op.pointer);
    }
    const responses = Object.keys(op.op.responses ?? {});
    if (!responses.some((s) => /^2(\d\d|XX)$/.test(s)))
      problems.push({ pointer: `${op.pointer}/responses`, message: 'no 2xx response: the tool gets no output schema', severity: 'warning' });
  });
  return problems;
}

function checkRefs(root: unknown, node: unknown, at: string, problems: SpecProblem[], remote: boolean): void {
  if (Array.isArray(node)) {
    node.forEach((x, i) => checkRefs(root, x, `${at}/${i}`, problems, remote));
    return;
  }
  if (!node || typeof node !== 'object') return;
  const ref = (node as Record<string, unknown>).$ref;
  if (typeof ref === 'string') {
    if (ref.startsWith('#')) {
      if (pointerGet(root, decodeURIComponent(ref.slice(1))) === undefined)
        problems.push({ pointer: `${at}/$ref`, message: `"${ref}" does not resolve inside the document`, severity: 'error' });
    } else if (!remote) {
      problems.push({ pointer: `${at}/$ref`, message: `"${ref}" points outside the document; remote refs are off (set remote_refs: true to follow them)`, severity: 'error' });
    }
  }
  for (const [k, v] of Object.entries(node)) if (k !== '$ref') checkRefs(root, v, `${at}/${escapePointer(k)}`, problems, remote);
}

export function formatProblems(problems: readonly SpecProblem[], source: string): string {
  return problems.map((p) => `${source}#${p.pointer}: ${p.severity}: ${p.message}`).join('\n');
}
