/**
 * Own-property lookup. A plain object literal inherits from Object.prototype, so
 * `TABLE[key]` with a key a client chose ("constructor", "toString", "__proto__") finds
 * a prototype member instead of nothing. Every table keyed by outside input goes through
 * here (or is a Map).
 */
export function own<T>(table: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return table !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}
