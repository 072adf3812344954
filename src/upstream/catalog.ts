/**
 * What one backend offers, as last listed from it: tools, resources, resource templates
 * and prompts, kept as the backend sent them (the gateway relays, it does not re-shape).
 */
export type Item = Record<string, unknown> & { name?: string; uri?: string; uriTemplate?: string };

export interface BackendCatalog {
  readonly tools: readonly Item[];
  readonly resources: readonly Item[];
  readonly resourceTemplates: readonly Item[];
  readonly prompts: readonly Item[];
}

export const EMPTY_CATALOG: BackendCatalog = Object.freeze({
  tools: [],
  resources: [],
  resourceTemplates: [],
  prompts: [],
});

export type ListKind = 'tools' | 'resources' | 'resourceTemplates' | 'prompts';

/** The lists a list_changed notification announces as changed (resources covers its templates). */
export function announcedLists(method: string): readonly ListKind[] {
  switch (method) {
    case 'notifications/tools/list_changed':
      return ['tools'];
    case 'notifications/prompts/list_changed':
      return ['prompts'];
    case 'notifications/resources/list_changed':
      return ['resources', 'resourceTemplates'];
    default:
      return [];
  }
}

/** List method → result key, the capability that must be advertised for it, and the member naming each item. */
export const LISTS: ReadonlyArray<{ kind: ListKind; method: string; capability: string; key: 'name' | 'uri' | 'uriTemplate' }> = [
  { kind: 'tools', method: 'tools/list', capability: 'tools', key: 'name' },
  { kind: 'resources', method: 'resources/list', capability: 'resources', key: 'uri' },
  { kind: 'resourceTemplates', method: 'resources/templates/list', capability: 'resources', key: 'uriTemplate' },
  { kind: 'prompts', method: 'prompts/list', capability: 'prompts', key: 'name' },
];
