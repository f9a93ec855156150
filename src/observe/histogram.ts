// A histogram family for the message path. prom-client's Histogram validates and hashes its
// labels on every observe (about a microsecond), which per message would cost more than a Wasm
// stage; here a series is looked up once and an observation is a few additions. The registry
// reads it like any other metric, in Prometheus's histogram format.
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

interface Series {
  labels: Labels;
  /** observations per bucket, not cumulative; the last one is past every bound (+Inf) */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class FastHistogram {
  readonly type = 'histogram';
  readonly #series = new Map<string, Series>();

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The function that records one observation in the series of these labels. */
  series(labels: Labels): (value: number) => void {
    const key = JSON.stringify(labels);
    let s = this.#series.get(key);
    if (s === undefined) this.#series.set(key, (s = { labels, counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 }));
    const series = s;
    const bounds = this.buckets;
    const n = bounds.length;
    return (value) => {
      series.sum += value;
      series.count++;
      let i = 0;
      while (i < n && value > bounds[i]!) i++;
      series.counts[i]!++;
    };
  }

  /** What prom-client's registry formats: cumulative buckets, then sum and count, per series. */
  get(): { name: string; help: string; type: string; aggregator: string; values: { metricName: string; labels: Record<string, string | number>; value: number }[] } {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += s.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, ...s.labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: 'sum', values };
  }

  reset(): void {
    this.#series.clear();
  }
}
