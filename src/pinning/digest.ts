/**
 * The digest of a tool's definition: SHA-256 over the canonical JSON (canonical.ts) of
 * the tool as the backend listed it — every member, `_meta` included. So name, title,
 * description, inputSchema, outputSchema, annotations, icons, execution, `_meta` and any
 * field a later revision of the spec adds are covered: a change to any of them is a
 * change the client (and the model reading the list) would see, since clients get the
 * tool as listed. `_meta` is where extensions put what hosts act on: MCP Apps'
 * `_meta.ui.resourceUri` (the UI a host renders, able to call tools) and `visibility`,
 * the OpenAI Apps SDK's `openai/outputTemplate` and `openai/widgetAccessible`; a backend
 * that varies `_meta` between listings has its tool reported (fail closed).
 *
 * The definition kept beside the digest (in the lock file, to show a diff) is bounded:
 * larger definitions keep their digest and size only.
 */
import { createHash } from 'node:crypto';
import type { Item } from '../upstream/catalog.js';
import { CanonicalError, canonicalJson } from './canonical.js';

/** Canonical definitions longer than this are not copied into the lock file (the digest still covers them). */
export const MAX_KEPT_DEFINITION = 64 * 1024;

export interface ToolDigest {
  /** "sha256:" and 64 hex digits. */
  readonly digest: string;
  /** Length of the canonical definition, in UTF-16 code units. */
  readonly size: number;
  /** The definition, when at most MAX_KEPT_DEFINITION long. */
  readonly definition: Record<string, unknown> | undefined;
}

/** The definition a digest covers: the tool's own members, as listed. */
export function pinnedPart(tool: Item): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(tool)) Object.defineProperty(out, k, { value: tool[k], enumerable: true, writable: true, configurable: true });
  return out;
}

/** The digest of one tool, or why it has none (nested too deep, not JSON). */
export function toolDigest(tool: Item): ToolDigest | { readonly error: string } {
  const part = pinnedPart(tool);
  let text: string;
  try {
    text = canonicalJson(part);
  } catch (err) {
    if (err instanceof CanonicalError) return { error: `its definition cannot be pinned: ${err.message}` };
    throw err;
  }
  return {
    digest: `sha256:${createHash('sha256').update(text).digest('hex')}`,
    size: text.length,
    definition: text.length <= MAX_KEPT_DEFINITION ? part : undefined,
  };
}
