/**
 * The document loader's worker thread (started by off-thread.ts): one OpenAPI document,
 * given as `workerData` (an OpenApiToolsInput), loaded, checked and converted here, and one
 * message back, a LoadReply. Nothing else runs in this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadOpenApiTools, type OpenApiToolsInput } from './tools.js';

if (!parentPort) throw new Error('load-worker.js runs as a worker thread (off-thread.ts starts it)');
const port = parentPort;
port.postMessage(await loadOpenApiTools(workerData as OpenApiToolsInput));
