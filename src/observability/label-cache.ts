/**
 * Metric children by label values, made once: prom-client hashes the label object on every
 * inc/observe, which allocates; a child from `labels(...)` has its series resolved. Nested
 * Maps find a child without building a key string, so a hit allocates nothing. Label values
 * must come from bounded sets (metrics.ts bounds them before they get here).
 */
export class LabelCache<T> {
  private readonly root = new Map<string, unknown>();

  constructor(private readonly make: (values: string[]) => T) {}

  get(...values: string[]): T {
    let level = this.root;
    for (let i = 0; i < values.length - 1; i++) {
      let next = level.get(values[i]) as Map<string, unknown> | undefined;
      if (!next) level.set(values[i], (next = new Map()));
      level = next;
    }
    const last = values[values.length - 1];
    let child = level.get(last) as T | undefined;
    if (child === undefined) level.set(last, (child = this.make(values)));
    return child;
  }
}
