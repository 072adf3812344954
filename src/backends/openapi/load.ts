/**
 * Loads an OpenAPI document for an `openapi` backend: a file (relative to the config
 * file), an http(s) URL, or `spec: auto`, which looks at the usual places under the
 * backend's base URL. JSON or YAML. External `$ref`s are followed only with
 * `remote_refs: true` (bundled into the document by json-schema-ref-parser).
 */
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import $RefParser from '@apidevtools/json-schema-ref-parser';
import { request } from 'undici';
import { parse as parseYaml } from 'yaml';

/** Where frameworks serve their document: FastAPI, Express generators, Springdoc, Swagger. */
export const AUTO_PATHS = ['/openapi.json', '/openapi.yaml', '/swagger.json', '/v3/api-docs'];
const MAX_SPEC_BYTES = 32 * 1024 * 1024;

export interface LoadedSpec {
  doc: Record<string, unknown>;
  /** The file path or URL it came from. */
  source: string;
}

export class SpecLoadError extends Error {}

export function parseSpecText(text: string, source: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = /^\s*\{/.test(text) ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 1000 });
  } catch (err) {
    throw new SpecLoadError(`${source}: not JSON or YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new SpecLoadError(`${source}: not an OpenAPI document (expected an object)`);
  return doc as Record<string, unknown>;
}

export async function loadSpec(
  spec: string,
  opts: { baseDir: string; baseUrl?: string; headers?: Record<string, string>; remoteRefs?: boolean; timeoutMs?: number },
): Promise<LoadedSpec> {
  let loaded: LoadedSpec;
  if (spec === 'auto') {
    if (!opts.baseUrl) throw new SpecLoadError('spec: auto needs base_url');
    loaded = await discover(opts.baseUrl, opts);
  } else if (/^https?:\/\//i.test(spec)) {
    const text = await fetchText(spec, opts);
    if (text === undefined) throw new SpecLoadError(`${spec}: no OpenAPI document there`);
    loaded = { doc: parseSpecText(text, spec), source: spec };
  } else {
    const file = resolvePath(opts.baseDir, spec);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new SpecLoadError(`${file}: cannot read the OpenAPI document: ${(err as Error).message}`);
    }
    loaded = { doc: parseSpecText(text, file), source: file };
  }
  if (opts.remoteRefs) {
    try {
      const bundled = await $RefParser.bundle(loaded.source, loaded.doc as never, { resolve: { external: true, http: { headers: opts.headers ?? {}, timeout: opts.timeoutMs ?? 10_000 } } });
      loaded = { ...loaded, doc: bundled as unknown as Record<string, unknown> };
    } catch (err) {
      throw new SpecLoadError(`${loaded.source}: cannot resolve remote $refs: ${(err as Error).message}`);
    }
  }
  return loaded;
}

async function discover(baseUrl: string, opts: { headers?: Record<string, string>; timeoutMs?: number }): Promise<LoadedSpec> {
  const base = new URL(baseUrl);
  const prefixes = [base.pathname.replace(/\/+$/, '')];
  if (prefixes[0] !== '') prefixes.push(''); // then the origin's root
  const tried: string[] = [];
  for (const prefix of prefixes) {
    for (const p of AUTO_PATHS) {
      const url = new URL(prefix + p, base).href;
      tried.push(url);
      const text = await fetchText(url, opts).catch(() => undefined);
      if (text === undefined) continue;
      try {
        const doc = parseSpecText(text, url);
        if (typeof doc.openapi === 'string' || typeof doc.swagger === 'string') return { doc, source: url };
      } catch {
        // not a document: try the next place
      }
    }
  }
  throw new SpecLoadError(`spec: auto found no OpenAPI document under ${baseUrl} (tried ${tried.join(', ')})`);
}

/** The body of a 200 answer, or undefined for any other status. */
async function fetchText(url: string, opts: { headers?: Record<string, string>; timeoutMs?: number }): Promise<string | undefined> {
  let res;
  try {
    res = await request(url, { headers: { accept: 'application/json, application/yaml;q=0.9, */*;q=0.5', ...opts.headers }, signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new SpecLoadError(`${url}: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_SPEC_BYTES) {
      res.body.destroy();
      throw new SpecLoadError(`${url}: the document is larger than ${MAX_SPEC_BYTES} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The API's base URL: configured, or the document's first server (variables at their defaults, relative to the document's URL). */
export function baseUrlOf(doc: Record<string, unknown>, configured: string | undefined, source: string): string {
  if (configured) return configured;
  const server = (Array.isArray(doc.servers) ? doc.servers[0] : undefined) as { url?: string; variables?: Record<string, { default?: string }> } | undefined;
  if (!server?.url) throw new SpecLoadError(`${source}: the document lists no servers; set base_url`);
  const url = server.url.replace(/\{([^}]+)\}/g, (_m, v: string) => server.variables?.[v]?.default ?? `{${v}}`);
  try {
    return new URL(url, /^https?:/i.test(source) ? source : undefined).href;
  } catch {
    throw new SpecLoadError(`${source}: the first server URL ${JSON.stringify(server.url)} is not absolute; set base_url`);
  }
}
