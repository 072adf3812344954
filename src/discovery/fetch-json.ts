/**
 * One GET of a JSON document from a discovery source (an MCP registry, Consul): bounded
 * in time and size, no redirects followed (a source answers for itself), the body parsed
 * only once it is whole. Errors name the URL without its query.
 */
export interface JsonAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

export async function fetchJson(url: string, opts: { timeoutMs: number; maxBytes: number; headers?: Record<string, string>; signal?: AbortSignal }): Promise<JsonAnswer> {
  const where = url.split('?')[0];
  const signals = [AbortSignal.timeout(opts.timeoutMs), ...(opts.signal ? [opts.signal] : [])];
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json', ...opts.headers }, redirect: 'manual', signal: AbortSignal.any(signals) });
  } catch (err) {
    const e = err as Error & { cause?: { message?: string } };
    throw new Error(`GET ${where}: ${e.name === 'TimeoutError' ? `no answer within ${opts.timeoutMs} ms` : (e.cause?.message ?? e.message)}`);
  }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > opts.maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`GET ${where}: ${declared} bytes, more than ${opts.maxBytes} (discovery.max_document_bytes)`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > opts.maxBytes) {
          await reader.cancel().catch(() => {});
          throw new Error(`GET ${where}: more than ${opts.maxBytes} bytes (discovery.max_document_bytes)`);
        }
        chunks.push(value);
      }
    } catch (err) {
      if ((err as Error).message.startsWith('GET ')) throw err;
      throw new Error(`GET ${where}: ${(err as Error).name === 'TimeoutError' ? `no answer within ${opts.timeoutMs} ms` : (err as Error).message}`);
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (res.status < 200 || res.status >= 300) return { status: res.status, headers: res.headers, body: text.slice(0, 200) };
  try {
    return { status: res.status, headers: res.headers, body: JSON.parse(text) };
  } catch {
    throw new Error(`GET ${where}: the answer is not JSON`);
  }
}
