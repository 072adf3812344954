/**
 * Metric series by label values, made once: nested Maps find one without building a key
 * string or an argument array, so a hit allocates nothing. Label values must come from
 * bounded sets (metrics.ts bounds them before they get here).
 */
export class LabelCache<T> {
  private root = new Map<string, unknown>();

  /** `depth`: how many label values a key has (1 to 4). */
  constructor(
    private readonly depth: number,
    private readonly make: (values: string[]) => T,
  ) {
    if (!(depth >= 1 && depth <= 4)) throw new RangeError(`LabelCache: 1 to 4 labels, not ${depth}`);
  }

  get(a: string, b?: string, c?: string, d?: string): T {
    const depth = this.depth;
    let level = this.root;
    if (depth > 1) level = this.level(level, a);
    if (depth > 2) level = this.level(level, b!);
    if (depth > 3) level = this.level(level, c!);
    const last = depth === 1 ? a : depth === 2 ? b! : depth === 3 ? c! : d!;
    let v = level.get(last) as T | undefined;
    if (v === undefined) level.set(last, (v = this.make([a, b!, c!, d!].slice(0, depth))));
    return v;
  }

  clear(): void {
    this.root = new Map();
  }

  private level(m: Map<string, unknown>, k: string): Map<string, unknown> {
    let next = m.get(k) as Map<string, unknown> | undefined;
    if (!next) m.set(k, (next = new Map()));
    return next;
  }
}
