/**
 * `remote_refs: true`: the documents `$ref`s name are read and bundled into the document
 * (json-schema-ref-parser), through our two resolvers instead of its own, so that:
 *
 * - credentials go only to the API's origin (origin.ts); redirects are not followed;
 * - an origin the config does not name is fetched only from a public address;
 * - a remote document never reads a local file: not by `$ref: file:///…`, not by a
 *   relative ref under a `file:` `$id`, not through another remote document;
 * - a local document reads files only inside its own directory (symlinks resolved);
 * - at most MAX_REF_DOCUMENTS documents and MAX_REF_BYTES bytes are read in all.
 */
import { realpath, stat, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import $RefParser from '@apidevtools/json-schema-ref-parser';
import { describeStatus, fetchDocument } from './fetch-doc.js';
import { credentialsFor, httpOrigin, type Credentials } from './origin.js';
import { parseDocumentText } from './parse-text.js';
import { publicDispatcher } from './public-address.js';
import { SpecLoadError } from './spec-error.js';

export const MAX_DOCUMENT_BYTES = 32 * 1024 * 1024;
export const MAX_REF_DOCUMENTS = 100;
export const MAX_REF_BYTES = 64 * 1024 * 1024;

export interface RefPolicy {
  /** The API's origin: the only one that receives `credentials`. */
  trusted: string | undefined;
  /** Origins the config names (the document's, base_url's): fetched even on a private address. */
  named: ReadonlySet<string>;
  credentials: Credentials;
  timeoutMs: number;
}

interface FileInfo {
  url: string;
  baseUrl?: string;
}

const isHttp = (u: string) => /^https?:/i.test(u);

/** Bundles the external `$ref`s of `doc` (loaded from `source`, a path or an http(s) URL) into it. */
export async function bundleRefs(source: string, doc: Record<string, unknown>, policy: RefPolicy): Promise<Record<string, unknown>> {
  const remoteRoot = isHttp(source);
  if (remoteRoot) assertNoLocalRefs(doc, source);
  const root = remoteRoot ? undefined : dirname(await realpath(source));
  let documents = 0;
  let bytes = 0;
  const count = (what: string) => {
    if (++documents > MAX_REF_DOCUMENTS) throw new SpecLoadError(`${what}: more than ${MAX_REF_DOCUMENTS} documents referenced; bundle the document`);
  };
  const spend = (what: string, n: number) => {
    bytes += n;
    if (bytes > MAX_REF_BYTES) throw new SpecLoadError(`${what}: referenced documents add up to more than ${MAX_REF_BYTES} bytes`);
  };

  const readLocal = async (file: FileInfo): Promise<unknown> => {
    const from = file.baseUrl?.replace(/#.*/, '');
    if (root === undefined || (from !== undefined && isHttp(from))) {
      throw new SpecLoadError(`remote document ${from ?? source} refers to a local file (${file.url}); remote documents never read local files`);
    }
    let path: string;
    try {
      path = fileURLToPath(new URL(file.url, 'file:///'));
    } catch {
      throw new SpecLoadError(`$ref ${file.url}: only files and http(s) URLs are followed`);
    }
    const real = await realpath(path).catch((err: Error) => {
      throw new SpecLoadError(`$ref ${path}: ${err.message}`);
    });
    const rel = relative(root, real);
    if (rel === '' || rel.split(sep)[0] === '..' || isAbsolute(rel)) {
      throw new SpecLoadError(`$ref ${path} is outside the document's directory (${root}); a local document may refer only to files inside it`);
    }
    count(path);
    const size = (await stat(real)).size;
    if (size > MAX_DOCUMENT_BYTES) throw new SpecLoadError(`$ref ${path}: the document is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    spend(path, size);
    return parseDocumentText(await readFile(real, 'utf8'), path);
  };

  const readRemote = async (file: FileInfo): Promise<unknown> => {
    const url = file.url;
    count(url);
    const origin = httpOrigin(url);
    const dispatcher = origin !== undefined && policy.named.has(origin) ? undefined : await publicDispatcher(new URL(url), `$ref ${url}`);
    try {
      const got = await fetchDocument(url, {
        credentials: credentialsFor(url, policy.trusted, policy.credentials),
        timeoutMs: policy.timeoutMs,
        maxBytes: MAX_DOCUMENT_BYTES,
        dispatcher,
        // Counted as it arrives: refs are fetched in parallel, and the budget bounds them together.
        onChunk: (n) => spend(url, n),
      });
      if (got.text === undefined) throw new SpecLoadError(`$ref ${describeStatus(url, got)}`);
      const parsed = parseDocumentText(got.text, url);
      assertNoLocalRefs(parsed, url);
      return parsed;
    } finally {
      await dispatcher?.close();
    }
  };

  // The parser wraps what a resolver throws in its own, vaguer error: keep ours.
  let failure: Error | undefined;
  const keep = (read: (f: FileInfo) => Promise<unknown>) => async (f: FileInfo) => {
    try {
      return await read(f);
    } catch (err) {
      failure ??= err as Error;
      throw err;
    }
  };
  try {
    const bundled = await $RefParser.bundle(source, doc as never, {
      resolve: {
        external: true,
        file: false,
        http: false,
        mcpegLocal: { order: 1, canRead: (f: FileInfo) => !isHttp(f.url), read: keep(readLocal) as never },
        mcpegRemote: { order: 2, canRead: (f: FileInfo) => isHttp(f.url), read: keep(readRemote) as never },
      },
    });
    return bundled as unknown as Record<string, unknown>;
  } catch (err) {
    const e = failure ?? (err as Error);
    throw new SpecLoadError(`${source}: cannot resolve remote $refs: ${e.message}`);
  }
}

/**
 * Refuses a remote document any of whose `$ref`s or `$id`s (`id` under draft-04) resolves,
 * against its URL, to anything but http(s): a relative reference under an http(s) base
 * stays http(s), so this covers nested `$id` scopes too.
 */
function assertNoLocalRefs(doc: unknown, url: string): void {
  const stack: Array<{ v: unknown; legacy: boolean }> = [{ v: doc, legacy: false }];
  while (stack.length) {
    const { v, legacy: inherited } = stack.pop()!;
    if (!v || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v) stack.push({ v: x, legacy: inherited });
      continue;
    }
    const o = v as Record<string, unknown>;
    const schema = typeof o.$schema === 'string' ? o.$schema : undefined;
    const legacy = schema ? schema.includes('draft-04/') : inherited;
    for (const key of legacy ? ['$ref', '$id', 'id'] : ['$ref', '$id']) {
      const ref = o[key];
      if (typeof ref !== 'string') continue;
      let target: URL | undefined;
      try {
        target = new URL(ref, url);
      } catch {
        target = undefined;
      }
      if (!target || (target.protocol !== 'http:' && target.protocol !== 'https:')) {
        throw new SpecLoadError(`remote document ${url} refers to a local file or a non-http URL (${key}: ${JSON.stringify(ref)}); remote documents never read local files`);
      }
    }
    for (const x of Object.values(o)) stack.push({ v: x, legacy });
  }
}
