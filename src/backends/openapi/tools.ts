/**
 * An OpenAPI backend's document → its REST tools, in the thread that calls it: load
 * (load.ts), check (validate.ts), convert (convert.ts), then each tool checked as the
 * config's own REST tools are. What it would log comes back as data (`logs`), so that the
 * same code runs in the document loader's worker (load-worker.ts), which has no logger,
 * and in `mcpeg validate` (factory.ts checkBackend), in its own thread.
 */
import { restToolSchema, type RestTool } from '../../config/backends.js';
import { formatIssues } from '../../config/load.js';
import { convertSpec, type ConvertOptions } from './convert.js';
import { baseUrlOf, loadSpec } from './load.js';
import type { Credentials } from './origin.js';
import { validateSpec } from './validate.js';

/** What the load needs: the backend's config as plain data, its secrets already resolved. */
export interface OpenApiToolsInput {
  /** The backend's name, for messages. */
  name: string;
  spec: string;
  baseDir: string;
  baseUrl?: string;
  /** The backend's headers and auth; sent only to the API's origin (origin.ts). */
  credentials: Credentials;
  remoteRefs: boolean;
  /** For each fetch (the backend's connect_timeout). */
  timeoutMs: number;
  include?: ConvertOptions['include'];
  exclude?: ConvertOptions['exclude'];
  outputSchemas: boolean;
}

/** A line the caller logs for the backend. */
export interface LoadLogLine {
  level: 'info' | 'warn';
  fields: Record<string, unknown>;
  msg: string;
}

export interface OpenApiTools {
  baseUrl: string;
  tools: Record<string, RestTool>;
  /** The file path or URL the document came from. */
  source: string;
  logs: LoadLogLine[];
}

/** The load's outcome as plain data (it crosses from the worker): the tools, or why not; with what to log either way. */
export type LoadReply = ({ ok: true } & OpenApiTools) | { ok: false; message: string; logs: LoadLogLine[] };

/** Never rejects: a failure is a reply, with the lines logged before it. */
export async function loadOpenApiTools(input: OpenApiToolsInput): Promise<LoadReply> {
  const logs: LoadLogLine[] = [];
  try {
    return { ok: true, ...(await build(input, logs)), logs };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err), logs };
  }
}

async function build(input: OpenApiToolsInput, logs: LoadLogLine[]): Promise<Omit<OpenApiTools, 'logs'>> {
  const { name, credentials } = input;
  const { doc, source } = await loadSpec(input.spec, {
    baseDir: input.baseDir,
    baseUrl: input.baseUrl,
    credentials,
    remoteRefs: input.remoteRefs,
    timeoutMs: input.timeoutMs,
  });
  const problems = await validateSpec(doc, { remoteRefs: input.remoteRefs });
  const fatal = problems.filter((p) => p.pointer === '/openapi' || p.pointer.endsWith('/$ref'));
  if (fatal.length)
    throw new Error(
      `backend "${name}": ${source}: ${fatal
        .slice(0, 5)
        .map((p) => `#${p.pointer}: ${p.message}`)
        .join('; ')}`,
    );
  // Real-world documents often bend the schema; what can still be served is served.
  const errors = problems.filter((p) => p.severity === 'error');
  if (errors.length)
    logs.push({
      level: 'warn',
      fields: { backend: name, problems: errors.length, first: errors.slice(0, 3).map((p) => `#${p.pointer}: ${p.message}`) },
      msg: `OpenAPI document ${source} has problems (mcpeg validate --openapi shows them all)`,
    });
  let converted: ReturnType<typeof convertSpec>;
  try {
    converted = convertSpec(doc, {
      include: input.include,
      exclude: input.exclude,
      outputSchemas: input.outputSchemas,
      reserved: { headers: Object.keys(credentials.headers), query: Object.keys(credentials.query) },
    });
  } catch (err) {
    throw new Error(`backend "${name}": ${source}: ${(err as Error).message}`);
  }
  for (const n of converted.notes) logs.push({ level: 'info', fields: { backend: name }, msg: n });
  const tools: Record<string, RestTool> = {};
  for (const [tool, raw] of Object.entries(converted.tools)) {
    const parsed = restToolSchema.safeParse(raw);
    if (parsed.success) tools[tool] = parsed.data;
    else logs.push({ level: 'warn', fields: { backend: name, tool, problems: formatIssues(parsed.error.issues) }, msg: 'operation left out: it does not make a valid tool' });
  }
  if (!Object.keys(tools).length) throw new Error(`backend "${name}": ${source} yields no tools${input.include ? ' (check include)' : ''}`);
  return { baseUrl: baseUrlOf(doc, input.baseUrl, source, credentials), tools, source };
}
