/**
 * Loads an OpenAPI backend's document in a worker thread (load-worker.ts), bounded in
 * memory and time, so that the gateway's event loop keeps serving every other client and
 * backend meanwhile. The document is the backend's, an untrusted server's: parsing up to
 * 32 MiB of YAML (about a second per MB), bundling, validating and converting it took tens
 * of seconds of the main thread, on every start, reload and reconnect. Only plain data
 * crosses: the inputs in, a LoadReply (tools, or the error's message; lines to log) out.
 */
import { resolve as resolvePath } from 'node:path';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { asError } from '../../util/as-error.js';
import type { LoadReply, OpenApiToolsInput } from './tools.js';

/**
 * Per worker. Old generation 1024 MB: the yaml library's document model takes about 60
 * times the text (measured: an 8 MiB, 5,800-operation YAML document loads in 512 MB, a
 * 16 MiB one needs more than 512 and loads in 1024; a 31 MiB JSON one, 29,000 operations,
 * loads in 512), so JSON documents up to the 32 MiB cap and YAML up to about 16 MiB load;
 * above that the load fails with ERR_WORKER_OUT_OF_MEMORY instead of growing the gateway
 * towards its own heap limit. Young generation 48 MB: V8's default on 64-bit (two 16 MB
 * semi-spaces and the large-object space); a bigger one barely speeds up parsing.
 */
export const LOADER_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 1024, maxYoungGenerationSizeMb: 48 };

/** Wall clock, from the worker's start: a 31 MiB JSON document takes about 30 s on a busy 2-core machine. */
export const LOAD_TIMEOUT_MS = 120_000;

/**
 * Workers at once in this process; the rest wait their turn (N openapi backends
 * reconnecting together start two workers, not N). A process-wide count, as what it bounds
 * is the process's memory and cores: with two, at most ~2.2 GB beside the gateway's own heap.
 */
export const MAX_LOADERS = 2;

const WORKER = new URL('./load-worker.js', import.meta.url);

let running = 0;
const waiting: Array<() => void> = [];

/** The document, as the error messages name it. */
export function sourceOf(input: Pick<OpenApiToolsInput, 'spec' | 'baseDir' | 'baseUrl'>): string {
  if (input.spec === 'auto') return `spec: auto under ${input.baseUrl}`;
  return /^https?:\/\//i.test(input.spec) ? input.spec : resolvePath(input.baseDir, input.spec);
}

/**
 * The document loaded in a worker; never rejects. `signal`: the backend stopped, the load is
 * abandoned (its worker terminated). `timeoutMs`: LOAD_TIMEOUT_MS unless a test says otherwise.
 */
export async function loadOffThread(input: OpenApiToolsInput, signal?: AbortSignal, timeoutMs = LOAD_TIMEOUT_MS): Promise<LoadReply> {
  const failed = (what: string): LoadReply => ({ ok: false, message: `backend "${input.name}": ${sourceOf(input)}: ${what}`, logs: [] });
  const stopped = () => failed('the load was abandoned: the backend stopped');
  if (signal?.aborted) return stopped();
  if (running < MAX_LOADERS) running++;
  else if (!(await turn(signal))) return stopped();
  return run(input, signal, timeoutMs, failed);
}

/** Waits for a worker's slot, handed over by the one that ends; false if `signal` aborts first. */
function turn(signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const go = () => {
      signal?.removeEventListener('abort', leave);
      resolve(true);
    };
    const leave = () => {
      const i = waiting.indexOf(go);
      if (i >= 0) waiting.splice(i, 1);
      resolve(false);
    };
    waiting.push(go);
    signal?.addEventListener('abort', leave, { once: true });
  });
}

/** The slot passes to the next in line, or is freed. Called when a worker has exited, its memory returned. */
function release(): void {
  const next = waiting.shift();
  if (next) next();
  else running--;
}

function run(input: OpenApiToolsInput, signal: AbortSignal | undefined, timeoutMs: number, failed: (what: string) => LoadReply): Promise<LoadReply> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(WORKER, { workerData: input, resourceLimits: LOADER_LIMITS });
    } catch (err) {
      release();
      resolve(failed(`the document loader did not start: ${(err as Error).message}`));
      return;
    }
    let settled = false;
    const finish = (reply: LoadReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      void worker.terminate();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(failed(`loading, checking and converting the OpenAPI document took longer than ${timeoutMs / 1000} s; the load was stopped`)), timeoutMs);
    const abort = () => finish(failed('the load was abandoned: the backend stopped'));
    signal?.addEventListener('abort', abort, { once: true });
    worker.once('message', (reply: LoadReply) => finish(reply));
    worker.once('messageerror', (err: Error) => finish(failed(`the document loader's answer could not be read: ${err.message}`)));
    // What the worker threw comes as it was (a value of any kind, structured-cloned): read through asError.
    worker.once('error', (thrown: unknown) => {
      const err = asError(thrown) as NodeJS.ErrnoException;
      finish(
        failed(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? `the OpenAPI document needs more memory than the document loader's ${LOADER_LIMITS.maxOldGenerationSizeMb} MB to load (ERR_WORKER_OUT_OF_MEMORY); the load was stopped`
            : `the document loader failed: ${err.message}`,
        ),
      );
    });
    worker.once('exit', (code) => {
      release();
      finish(failed(`the document loader exited (code ${code}) without an answer`));
    });
  });
}
