/**
 * Loads an OpenAPI document for an `openapi` backend: a file (relative to the config
 * file), an http(s) URL, or `spec: auto`, which looks at the usual places under the
 * backend's base URL. JSON or YAML. External `$ref`s are followed only with
 * `remote_refs: true` (remote-refs.ts).
 *
 * The backend's credentials (its `headers` and `auth`) go only to the API's origin:
 * base_url's, or without base_url the document URL's (and then the document's server
 * must be on it, see baseUrlOf). A document on another origin is fetched without them.
 */
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { describeStatus, fetchDocument } from './fetch-doc.js';
import { credentialsFor, hasCredentials, httpOrigin, NO_CREDENTIALS, type Credentials } from './origin.js';
import { parseSpecText } from './parse-text.js';
import { bundleRefs, MAX_DOCUMENT_BYTES } from './remote-refs.js';
import { SpecLoadError } from './spec-error.js';

export { parseSpecText } from './parse-text.js';
export { SpecLoadError } from './spec-error.js';

/** Where frameworks serve their document: FastAPI, Express generators, Springdoc, Swagger. */
export const AUTO_PATHS = ['/openapi.json', '/openapi.yaml', '/swagger.json', '/v3/api-docs'];

export interface LoadedSpec {
  doc: Record<string, unknown>;
  /** The file path or URL it came from. */
  source: string;
}

export interface LoadOptions {
  baseDir: string;
  baseUrl?: string;
  /** The backend's headers and auth; sent only to the API's origin. */
  credentials?: Credentials;
  remoteRefs?: boolean;
  timeoutMs?: number;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

export async function loadSpec(spec: string, opts: LoadOptions): Promise<LoadedSpec> {
  const creds = opts.credentials ?? NO_CREDENTIALS;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  // Without base_url, a document URL stands for the API (baseUrlOf holds the server to it).
  let trusted = httpOrigin(opts.baseUrl) ?? (isUrl(spec) ? httpOrigin(spec) : undefined);
  let loaded: LoadedSpec;
  if (spec === 'auto') {
    if (!opts.baseUrl) throw new SpecLoadError('spec: auto needs base_url');
    loaded = await discover(opts.baseUrl, (url) => ({ credentials: credentialsFor(url, trusted, creds), timeoutMs, maxBytes: MAX_DOCUMENT_BYTES }));
  } else if (isUrl(spec)) {
    const got = await fetchDocument(spec, { credentials: credentialsFor(spec, trusted, creds), timeoutMs, maxBytes: MAX_DOCUMENT_BYTES });
    if (got.text === undefined) throw new SpecLoadError(`${describeStatus(spec, got)}: no OpenAPI document there`);
    loaded = { doc: parseSpecText(got.text, spec), source: spec };
  } else {
    const file = resolvePath(opts.baseDir, spec);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new SpecLoadError(`${file}: cannot read the OpenAPI document: ${(err as Error).message}`);
    }
    loaded = { doc: parseSpecText(text, file), source: file };
    // A local document is the config author's: its first server may stand for base_url.
    if (trusted === undefined) {
      try {
        trusted = httpOrigin(baseUrlOf(loaded.doc, undefined, file));
      } catch {
        // no usable server: the factory reports it; refs then go without credentials
      }
    }
  }
  if (opts.remoteRefs) {
    const named = new Set([trusted, httpOrigin(loaded.source)].filter((o): o is string => o !== undefined));
    loaded = { ...loaded, doc: await bundleRefs(loaded.source, loaded.doc, { trusted, named, credentials: creds, timeoutMs }) };
  }
  return loaded;
}

async function discover(baseUrl: string, opts: (url: string) => Parameters<typeof fetchDocument>[1]): Promise<LoadedSpec> {
  const base = new URL(baseUrl);
  const prefixes = [base.pathname.replace(/\/+$/, '')];
  if (prefixes[0] !== '') prefixes.push(''); // then the origin's root
  const tried: string[] = [];
  for (const prefix of prefixes) {
    for (const p of AUTO_PATHS) {
      const url = new URL(prefix + p, base).href;
      tried.push(url);
      const got = await fetchDocument(url, opts(url)).catch(() => undefined);
      if (got?.text === undefined) continue;
      try {
        const doc = parseSpecText(got.text, url);
        if (typeof doc.openapi === 'string' || typeof doc.swagger === 'string') return { doc, source: url };
      } catch {
        // not a document: try the next place
      }
    }
  }
  throw new SpecLoadError(`spec: auto found no OpenAPI document under ${baseUrl} (tried ${tried.join(', ')})`);
}

/**
 * The API's base URL: configured, or the document's first server (variables at their
 * defaults, relative to the document's URL). With `credentials`, a server named by a
 * document fetched from a URL must be on that URL's origin: the document does not get to
 * choose where the backend's secrets go.
 */
export function baseUrlOf(doc: Record<string, unknown>, configured: string | undefined, source: string, credentials: Credentials = NO_CREDENTIALS): string {
  if (configured) return configured;
  const server = (Array.isArray(doc.servers) ? doc.servers[0] : undefined) as { url?: string; variables?: Record<string, { default?: string }> } | undefined;
  if (!server?.url) throw new SpecLoadError(`${source}: the document lists no servers; set base_url`);
  const url = server.url.replace(/\{([^{}]+)\}/g, (_m, v: string) => server.variables?.[v]?.default ?? `{${v}}`);
  let href: string;
  try {
    href = new URL(url, isUrl(source) ? source : undefined).href;
  } catch {
    throw new SpecLoadError(`${source}: the first server URL ${JSON.stringify(server.url)} is not absolute; set base_url`);
  }
  if (httpOrigin(href) === undefined) throw new SpecLoadError(`${source}: the first server URL ${JSON.stringify(server.url)} is not http(s); set base_url`);
  if (isUrl(source) && hasCredentials(credentials) && httpOrigin(href) !== httpOrigin(source)) {
    throw new SpecLoadError(
      `${source}: servers[0] (${href}) is on another origin than the document; the backend's credentials go only to the document's origin without base_url: set base_url to send them there`,
    );
  }
  return href;
}
