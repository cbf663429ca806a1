import { Counter, type Metric, type Registry } from 'prom-client';

/**
 * Metrics updated once a message or more: plain numbers in preallocated slots, handed to
 * prom-client only when /metrics is scraped. prom-client's own inc() and observe() hash
 * their labels on every call (about 0.4 and 0.9 µs here), which would be a noticeable part
 * of a message's cost; these cost a property increment.
 */

/**
 * A counter with one label. The values known up front show from the first scrape, at 0
 * until they happen; another value (a code added later, say) appears when first counted.
 * Label values come from the code, never from input: their number stays small.
 */
export class LabelledCounter<L extends string> {
  readonly #values: Record<string, number>;

  constructor(
    registry: Registry,
    name: string,
    help: string,
    labelName: string,
    knownValues: readonly L[],
  ) {
    const values: Record<string, number> = zeroes(knownValues);
    const exported: Record<string, number> = {};
    this.#values = values;
    new Counter({
      name,
      help,
      labelNames: [labelName],
      registers: [registry],
      collect() {
        for (const [label, value] of Object.entries(values)) {
          this.inc({ [labelName]: label }, value - (exported[label] ?? 0));
          exported[label] = value;
        }
      },
    });
  }

  inc(label: L, by = 1): void {
    this.#values[label] = (this.#values[label] ?? 0) + by;
  }
}

interface Series {
  /** Observations per bucket (not cumulative), the last slot past the highest bound. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

interface ExportedValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A Prometheus histogram with fixed buckets and an optional label whose values are known
 * up front. observe() allocates nothing. Registered with the registry as a metric of its own.
 */
export class FastHistogram<L extends string = never> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #series = new Map<L | '', Series>();
  readonly #labelName: string | undefined;

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
    label?: { name: string; values: readonly L[] },
  ) {
    this.#bounds = [...bounds].sort((a, b) => a - b);
    this.#labelName = label?.name;
    for (const value of label?.values ?? ['' as const]) {
      this.#series.set(value, {
        buckets: new Float64Array(this.#bounds.length + 1),
        sum: 0,
        count: 0,
      });
    }
    // prom-client formats any metric object of this shape; its types only name its own classes.
    registry.registerMetric(this as unknown as Metric);
  }

  /** Records one value; `label` is ignored by a histogram without a label. */
  observe(value: number, label?: L): void {
    const series = this.#series.get(this.#labelName === undefined ? '' : (label as L));
    if (series === undefined) return;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    series.buckets[i]++;
    series.sum += value;
    series.count++;
  }

  /** The prom-client metric shape: cumulative `_bucket` lines with `le`, `_sum`, `_count`. */
  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: ExportedValue[];
  }> {
    const values: ExportedValue[] = [];
    for (const [label, series] of this.#series) {
      const labels = this.#labelName === undefined ? {} : { [this.#labelName]: label };
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += series.buckets[i];
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { ...labels, le: bound },
          value: cumulative,
        });
      });
      values.push(
        {
          metricName: `${this.name}_bucket`,
          labels: { ...labels, le: '+Inf' },
          value: series.count,
        },
        { metricName: `${this.name}_sum`, labels, value: series.sum },
        { metricName: `${this.name}_count`, labels, value: series.count },
      );
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  reset(): void {
    for (const series of this.#series.values()) {
      series.buckets.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }
}

function zeroes<L extends string>(labels: readonly L[]): Record<L, number> {
  return Object.fromEntries(labels.map((label) => [label, 0])) as Record<L, number>;
}
