/**
 * Down-translation of results for clients on older protocol revisions, applied only when
 * the client's version predates the feature (so current clients pay nothing):
 * - `resource_link` content (2025-06-18) becomes a text item naming the link;
 * - `audio` content (2025-03-26) becomes a text item for 2024-11-05 clients.
 */
import { versionAtLeast } from '../wire/versions.js';

type Content = Record<string, unknown> & { type?: unknown };

export function needsTranslation(clientVersion: string): boolean {
  return !versionAtLeast(clientVersion, '2025-06-18');
}

export function translateResult(method: string, result: Record<string, unknown>, clientVersion: string): Record<string, unknown> {
  if (method === 'tools/call' && Array.isArray(result.content)) {
    return { ...result, content: (result.content as Content[]).map((c) => translateContent(c, clientVersion)) };
  }
  if (method === 'prompts/get' && Array.isArray(result.messages)) {
    const messages = (result.messages as Array<Record<string, unknown>>).map((m) =>
      m && typeof m.content === 'object' ? { ...m, content: translateContent(m.content as Content, clientVersion) } : m,
    );
    return { ...result, messages };
  }
  return result;
}

function translateContent(c: Content, v: string): Content {
  if (c?.type === 'resource_link') {
    return { type: 'text', text: `Resource link: ${String(c.name ?? c.uri)} <${String(c.uri)}>${c.description ? ` — ${String(c.description)}` : ''}` };
  }
  if (c?.type === 'audio' && !versionAtLeast(v, '2025-03-26')) {
    return { type: 'text', text: `[audio content of type ${String(c.mimeType)} omitted: not supported by protocol ${v}]` };
  }
  return c;
}
