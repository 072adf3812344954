/**
 * What a backend is sent for one principal's call: request headers (an Authorization
 * header with an exchanged token, an API key header). Made by the backend's credential
 * source (upstream/credentials/), carried by the relay call to the transport, which puts
 * it on that request only. Never built from anything the client sent.
 */
export interface UpstreamCredential {
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Headers with `over` replacing any header of the same name (case-insensitive): a
 * per-user `Authorization` replaces the static one instead of travelling beside it.
 */
export function withCredential(base: Readonly<Record<string, string>>, over: UpstreamCredential | undefined): Record<string, string> {
  if (!over) return { ...base };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (!Object.hasOwn(over.headers, k.toLowerCase())) out[k] = v;
  return Object.assign(out, over.headers);
}

/** The header a token goes in, as configured (`Authorization: Bearer <token>` by default). */
export function credentialOf(cfg: { header: string; scheme: string }, token: string): UpstreamCredential {
  return { headers: { [cfg.header.toLowerCase()]: cfg.scheme ? `${cfg.scheme} ${token}` : token } };
}
