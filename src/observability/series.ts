/**
 * Counters and histograms for the hot path, registered in a prom-client Registry (which
 * renders them at /metrics exactly as its own metrics) but fed without allocating: a
 * series is a cell found through LabelCache's nested Maps, and inc/observe only add to
 * its numbers. prom-client's own children hash a label object and allocate a closure
 * and a record on every inc/observe. Label values must come from bounded sets.
 */
import type { Metric, Registry } from 'prom-client';
import { LabelCache } from './label-cache.js';

type Labels = Record<string, string>;

export interface SeriesOptions {
  name: string;
  help: string;
  /** One to four label names. */
  labelNames: readonly string[];
  registry: Registry;
}

export class CounterCell {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(by = 1): void {
    this.value += by;
  }
}

export class HistogramCell {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  /** A value in the metric's unit (seconds for durations). */
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

abstract class Series<C> {
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  /** In creation order, the order prom-client renders series in. */
  protected cells: C[] = [];
  private readonly cache: LabelCache<C>;

  constructor(
    o: SeriesOptions,
    readonly type: 'counter' | 'histogram',
  ) {
    this.name = o.name;
    this.help = o.help;
    this.cache = new LabelCache<C>(o.labelNames.length, (values) => {
      const labels: Labels = {};
      o.labelNames.forEach((n, i) => {
        labels[n] = values[i];
      });
      const cell = this.make(labels);
      this.cells.push(cell);
      return cell;
    });
    o.registry.registerMetric(this as unknown as Metric);
  }

  protected abstract make(labels: Labels): C;

  /** The series of one label set (values in labelNames order), made on first use. */
  labels(a: string, b?: string, c?: string, d?: string): C {
    return this.cache.get(a, b, c, d);
  }

  /** Registry.resetMetrics(). */
  reset(): void {
    this.cells = [];
    this.cache.clear();
  }
}

export class CounterSeries extends Series<CounterCell> {
  constructor(o: SeriesOptions) {
    super(o, 'counter');
  }
  protected make(labels: Labels): CounterCell {
    return new CounterCell(labels);
  }
  /** prom-client's metric interface, read when /metrics is rendered. */
  get() {
    const values = this.cells.map((c) => ({ labels: c.labels, value: c.value }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class HistogramSeries extends Series<HistogramCell> {
  private readonly bounds: readonly number[];
  constructor(o: SeriesOptions & { buckets: readonly number[] }) {
    super(o, 'histogram');
    this.bounds = [...o.buckets].sort((x, y) => x - y);
  }
  protected make(labels: Labels): HistogramCell {
    return new HistogramCell(labels, this.bounds);
  }
  /** What Registry.getMetricsAsJSON and the admin API read: prom-client's get(), the labels of each sample in one object. */
  get() {
    const data = this.getForPromString();
    return { ...data, values: data.values.map(({ labels, sharedLabels, ...v }) => ({ ...v, labels: { ...labels, ...sharedLabels } })) };
  }

  /** What Registry.metrics() renders, as prom-client's histogram gives it: cumulative `_bucket` samples with `le`, then `_sum` and `_count`. */
  getForPromString() {
    // Field for field what prom-client gives (exemplars are not recorded: null on buckets, absent on sum and count).
    const values: Array<{ labels: Record<string, string | number>; sharedLabels: Labels; value: number; metricName: string; exemplar: null | undefined }> = [];
    const bucket = `${this.name}_bucket`;
    for (const cell of this.cells) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += cell.counts[i];
        values.push({ labels: { le }, sharedLabels: cell.labels, value: acc, metricName: bucket, exemplar: null });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: cell.labels, value: cell.count, metricName: bucket, exemplar: null });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.sum, metricName: `${this.name}_sum`, exemplar: undefined });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.count, metricName: `${this.name}_count`, exemplar: undefined });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
